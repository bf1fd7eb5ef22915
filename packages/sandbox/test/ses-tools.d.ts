/** The part of `ses/tools.js` (untyped) the tests use: SES's own source-rejecting transforms. */
declare module "ses/tools.js" {
  export const transforms: {
    readonly rejectHtmlComments: (source: string) => string
    readonly rejectImportExpressions: (source: string) => string
    readonly rejectSomeDirectEvalExpressions: (source: string) => string
    readonly mandatoryTransforms: (source: string) => string
  }
}
