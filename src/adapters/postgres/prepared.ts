/**
 * Names for fixed SQL texts, so node-postgres prepares each once per connection (PostgreSQL then parses and plans
 * it once per session instead of at every call). Only for texts that never vary per call: every distinct text
 * becomes a statement kept by each connection of the pool.
 */
import { createHash } from 'node:crypto';

const names = new Map<string, string>();

export function statementName(sql: string): string {
  let name = names.get(sql);
  if (name === undefined) {
    name = `s_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    names.set(sql, name);
  }
  return name;
}
