/**
 * Renders a Mermaid diagram in the browser. The server-rendered page carries the diagram's source in a
 * `<pre>` (readable without JavaScript); once mounted, the mermaid package replaces it with the SVG, and
 * re-renders it when the color scheme changes.
 *
 * Mermaid is not bundled: its own minified ESM build is copied to `/mermaid/` by scripts/generate.ts and
 * imported from there on the first diagram. Bundling it would triple the site's build time for no gain.
 */
import type { Mermaid } from "mermaid"
import { useData, withBase } from "vitepress"
import { defineComponent, h, onMounted, ref, watch } from "vue"

let counter = 0
let loading: Promise<Mermaid> | undefined
const loadMermaid = (): Promise<Mermaid> => {
  loading ??= import(/* @vite-ignore */ withBase("/mermaid/mermaid.esm.min.mjs")).then(
    (module: { readonly default: Mermaid }) => module.default
  )
  return loading
}

export const MermaidDiagram = defineComponent({
  name: "MermaidDiagram",
  props: {
    /** The diagram source, URI-encoded (it travels in an HTML attribute). */
    source: { type: String, required: true }
  },
  setup(props) {
    const { isDark } = useData()
    const svg = ref<string>()
    const text = decodeURIComponent(props.source)
    const render = async () => {
      const mermaid = await loadMermaid()
      mermaid.initialize({
        startOnLoad: false,
        securityLevel: "strict",
        theme: isDark.value ? "dark" : "default",
        flowchart: { htmlLabels: true, useMaxWidth: true }
      })
      try {
        const result = await mermaid.render(`mermaid-diagram-${++counter}`, text)
        svg.value = result.svg
      } catch (error) {
        console.error("mermaid could not render a diagram:", error)
      }
    }
    onMounted(render)
    watch(isDark, render)
    return () =>
      svg.value === undefined
        ? h("div", { class: "mermaid-diagram" }, [h("pre", { class: "mermaid-source" }, text)])
        : h("div", { class: "mermaid-diagram", "data-rendered": "true", innerHTML: svg.value })
  }
})
