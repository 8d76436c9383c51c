/**
 * Quoting of values written into `redis.conf` / `sentinel.conf` files and
 * into the command lines `redis-cli` reads from stdin.
 *
 * Both are tokenised by the server's `sdssplitargs`, which understands
 * double-quoted strings with backslash escapes. Quoting every user-supplied
 * value means spaces, quotes or newlines in a password cannot inject
 * directives or arguments. This module writes no file.
 *
 * @internal
 */

/** `value` as one double-quoted `sdssplitargs` token. */
export const quote = (value: string): string =>
  `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`
