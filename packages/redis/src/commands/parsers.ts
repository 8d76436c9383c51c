/**
 * The pure parsers of text replies: INFO (`parseInfo`) and CLIENT LIST /
 * CLIENT INFO (`parseClientList`).
 *
 * They are functions of a string, not command constructors: the `Commands`
 * barrel re-exports them (`Commands.parseInfo`), and `Redis.fromBackend`
 * builds a service method for every `Commands` export except exactly the
 * ones of this module. A parser therefore belongs here and nowhere else in
 * `commands/`. Nothing here sends anything.
 *
 * @since 0.1.0
 */

/**
 * Parses the text of INFO into `{ section: { field: value } }`. Section
 * names are lower-cased (`# Keyspace` → `keyspace`); fields keep their case;
 * values are left as strings (`db0` stays `keys=1,expires=0,...`). Fields
 * before any header go to the section `""`.
 *
 * @category parsers
 * @since 0.1.0
 */
export const parseInfo = (text: string): Record<string, Record<string, string>> => {
  const out: Record<string, Record<string, string>> = {}
  let current: Record<string, string> | undefined
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]
    if (line.endsWith("\r")) line = line.slice(0, -1)
    if (line.length === 0) continue
    if (line.startsWith("#")) {
      const name = line.slice(1).trim().toLowerCase()
      current = out[name] ?? (out[name] = {})
      continue
    }
    const colon = line.indexOf(":")
    if (colon <= 0) continue
    if (current === undefined) current = out[""] ?? (out[""] = {})
    current[line.slice(0, colon)] = line.slice(colon + 1)
  }
  return out
}

/**
 * Parses the text of CLIENT LIST (one client per line) or CLIENT INFO (one
 * line) into records of `field=value` pairs, values left as strings.
 *
 * @category parsers
 * @since 0.1.0
 */
export const parseClientList = (text: string): Array<Record<string, string>> => {
  const out: Array<Record<string, string>> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim()
    if (line.length === 0) continue
    const record: Record<string, string> = {}
    // Values never hold spaces: the server refuses names with spaces and
    // prints the command as `cmd=client|list`.
    const tokens = line.split(" ")
    for (let j = 0; j < tokens.length; j++) {
      const token = tokens[j]
      const eq = token.indexOf("=")
      if (eq <= 0) continue
      const k = token.slice(0, eq)
      if (k === "__proto__") continue
      record[k] = token.slice(eq + 1)
    }
    out.push(record)
  }
  return out
}
