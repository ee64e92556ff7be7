/**
 * The layer boundaries of eslint.config.mjs are live: a deliberately bad import, linted with the ESLint Node API as
 * if it were a file of that layer, is an error (and so fails `npm run lint`); the same import elsewhere is not.
 */
import { expect } from 'chai';
import { ESLint } from 'eslint';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

async function restrictedImports(code: string, filePath: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, filePath) });
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layer boundaries (eslint no-restricted-imports)', function () {
  this.timeout(20000);

  it('refuses an adapter imported by src/domain/', async () => {
    const errors = await restrictedImports(
      "import { Ledger } from '../adapters/postgres/ledger';\nexport const l = Ledger;\n",
      'src/domain/bad-example.ts',
    );
    expect(errors).to.have.length(1);
    expect(errors[0]).to.include('src/domain/ may import only src/domain/');
  });

  it('refuses node I/O modules and database / Kafka clients in src/domain/', async () => {
    const errors = await restrictedImports(
      "import { readFileSync } from 'node:fs';\nimport { Pool } from 'pg';\nimport { Kafka } from 'kafkajs';\n" +
        'export const x = [readFileSync, Pool, Kafka];\n',
      'src/domain/projection/bad-example.ts',
    );
    expect(errors).to.have.length(3);
  });

  it('refuses the testkit anywhere in src/', async () => {
    const errors = await restrictedImports(
      "import { startOpenCellSandbox } from '../../testkit/sandbox/opencell';\nexport const s = startOpenCellSandbox;\n",
      'src/flows/bad-example.ts',
    );
    expect(errors).to.have.length(1);
    expect(errors[0]).to.include('testkit');
  });

  it('keeps dependencies pointing inwards: adapters do not import flows, flows do not import the app', async () => {
    const fromAdapter = await restrictedImports(
      "import { Projector } from '../../flows/projection/projector';\nexport const p = Projector;\n",
      'src/adapters/postgres/bad-example.ts',
    );
    expect(fromAdapter).to.have.length(1);
    const fromFlow = await restrictedImports(
      "import { runRoles } from '../../app/run';\nexport const r = runRoles;\n",
      'src/flows/projection/bad-example.ts',
    );
    expect(fromFlow).to.have.length(1);
  });

  /** The `no-restricted-syntax` errors of a file that opens a pool with `new Pool`, linted as if it were at `filePath`. */
  async function newPoolErrors(filePath: string): Promise<string[]> {
    const code = "import { Pool } from 'pg';\nexport const p = new Pool({ max: 1 });\n";
    const [result] = await new ESLint({ cwd: ROOT }).lintText(code, { filePath: join(ROOT, filePath) });
    return result.messages.filter((m) => m.ruleId === 'no-restricted-syntax').map((m) => m.message);
  }

  it('refuses a PostgreSQL pool made without createPool in src/ (its lost idle connections would end the process)', async () => {
    const errors = await newPoolErrors('src/flows/bad-example.ts');
    expect(errors).to.have.length(1);
    expect(errors[0]).to.include('createPool');
    expect(await newPoolErrors('src/adapters/postgres/pool.ts')).to.deep.equal([]);
  });

  it('refuses a PostgreSQL pool made without testPool in test/ (a bare pool ended a whole CI run)', async () => {
    const errors = await newPoolErrors('test/integration/bad-example.test.ts');
    expect(errors).to.have.length(1);
    expect(errors[0]).to.include('testPool');
    expect(await newPoolErrors('test/support/pg.ts')).to.deep.equal([]);
  });

  it('lets adapters use I/O and the domain', async () => {
    const errors = await restrictedImports(
      "import { Pool } from 'pg';\nimport { SyncError } from '../../domain/errors';\nexport const x = [Pool, SyncError];\n",
      'src/adapters/postgres/good-example.ts',
    );
    expect(errors).to.deep.equal([]);
  });
});
