/**
 * The package's root folder — where package.json, connectors/, schemas/ and .run/ are — found from the sources
 * (src/…, run through tsx) and from the build (dist/src/…, and /app/dist/src/… in the image) alike: the nearest
 * ancestor of this file that holds a package.json (tsc does not copy package.json into dist/).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  cached = dir;
  return dir;
}
