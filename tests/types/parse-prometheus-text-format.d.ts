declare module "parse-prometheus-text-format" {
  /** One metric family as the parser returns it. */
  interface Family {
    name: string
    help: string
    type: string
    metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }>
  }
  const parse: (text: string) => Family[]
  export default parse
}
