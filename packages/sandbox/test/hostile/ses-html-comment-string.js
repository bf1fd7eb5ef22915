// expect: ok
// output: "<!-- generated --><ul></ul>"
// SES refuses "<!--" and "-->" anywhere in source text, strings and comments included (this one too):
// the compiler escapes them in strings and blanks comments, so HTML output works.
// biome-ignore lint/style/useTemplate: a plain string literal holding an HTML comment is the case tested
export default (input) => "<!-- generated -->" + `<ul>${input.items.map((item) => `<li>${item}</li>`).join("")}</ul>`
