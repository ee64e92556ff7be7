/**
 * The Node.js major the service runs on (docs/decisions/0001-node-24-runtime.md; package.json engines). The bin
 * script checks it before loading anything; this check is for the compiled entry point run directly
 * (`node dist/src/app/cli.js`), where a machine's older default `node` would otherwise run it unnoticed.
 */
export const MIN_NODE_MAJOR = 24;

/** The refusal for an older Node, or undefined on a supported one. */
export function unsupportedNode(
  version = process.versions.node,
  execPath = process.execPath,
): string | undefined {
  const major = Number(version.split('.')[0]);
  if (major >= MIN_NODE_MAJOR) return undefined;
  return (
    `error: odoo-opencell-sync needs Node.js ${MIN_NODE_MAJOR} or later; this is v${version} (${execPath}).\n` +
    `In a clone, run npm ci (it installs the project's Node ${MIN_NODE_MAJOR}) and start the CLI with npx odoo-opencell-sync.\n`
  );
}
