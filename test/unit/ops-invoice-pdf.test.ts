import { expect } from 'chai';
import { Registry } from 'prom-client';
import { INVOICE_PDF_PATH, startOpsServer, type OpsServer } from '../../src/app/http';
import { loadConfig } from '../../src/core/config';
import { ConfigError } from '../../src/domain/errors';
import { OpenCellClient } from '../../src/adapters/opencell';
import { startOpenCellSandbox, type OpenCellSandbox } from '../../testkit/sandbox/opencell';

const USER = 'pdf.reader';
const PASSWORD = 'Pdf-S3cr3t-p4ss!';
const TOKEN = 'tok-0123456789abcdef0123456789';

describe('invoice PDF route /web/binary/download_invoice (I-pdf, issue 14)', () => {
  let sandbox: OpenCellSandbox;
  let client: OpenCellClient;
  let server: OpsServer;
  let invoiceNumber: string;
  const errors: Error[] = [];

  const get = (query: string, token: string | null = TOKEN, on: OpsServer = server) =>
    fetch(`http://127.0.0.1:${on.port}${INVOICE_PDF_PATH}${query}`, {
      headers: token === null ? {} : { Authorization: `Bearer ${token}` },
    });

  before(async () => {
    sandbox = await startOpenCellSandbox({ port: 0, user: USER, password: PASSWORD });
    invoiceNumber = sandbox.generateInvoices({
      count: 1,
      invoiceDate: '2024-06-01',
      billingAccountCodes: ['42_0'],
    }).invoiceNumbers[0]!;
    client = new OpenCellClient({
      baseUrl: sandbox.url,
      user: USER,
      password: PASSWORD,
      timeoutMs: 2000,
      concurrency: 2,
    });
    server = await startOpsServer({
      port: 0,
      registry: new Registry(),
      checks: {},
      invoicePdf: { token: TOKEN, fetchPdf: (n) => client.getInvoicePdf(n), onError: (e) => errors.push(e) },
    });
  });
  after(async () => {
    await server.close();
    client.close();
    await sandbox.close();
  });

  it('serves a sandbox invoice as application/pdf with its filename, fetched with GET /invoice includePdf=true as the original', async () => {
    const before = sandbox.journal.entries({ path: '/invoice' }).length;
    const res = await get(`?invoice_number=${encodeURIComponent(invoiceNumber)}`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/pdf');
    expect(res.headers.get('content-disposition')).to.equal(`attachment; filename="${invoiceNumber}.pdf"`);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.subarray(0, 5).toString()).to.equal('%PDF-');
    expect(Number(res.headers.get('content-length'))).to.equal(body.length);
    const calls = sandbox.journal.entries({ path: '/invoice' }).slice(before);
    expect(calls).to.have.length(1);
    expect(calls[0]!.query).to.include({ invoiceNumber, includePdf: 'true' });
  });

  it('answers 404 for an invoice OpenCell does not know', async () => {
    const res = await get('?invoice_number=SC-2099-0000001');
    expect(res.status).to.equal(404);
    expect(await res.json()).to.include({ invoice_number: 'SC-2099-0000001' });
  });

  it('answers 400 for a missing, empty or malformed invoice_number, without calling OpenCell', async () => {
    const before = sandbox.journal.entries({ path: '/invoice' }).length;
    for (const q of [
      '',
      '?invoice_number=',
      '?other=1',
      '?invoice_number=a%22b',
      '?invoice_number=..%2Fetc',
      `?invoice_number=${'9'.repeat(65)}`,
    ]) {
      const res = await get(q);
      expect(res.status, q).to.equal(400);
    }
    expect(sandbox.journal.entries({ path: '/invoice' }).length).to.equal(before);
  });

  it('answers 401 without a bearer token or with a wrong one, before reading the number', async () => {
    const before = sandbox.journal.entries({ path: '/invoice' }).length;
    for (const token of [null, 'wrong', `${TOKEN}x`, '']) {
      const res = await get(`?invoice_number=${invoiceNumber}`, token);
      expect(res.status, String(token)).to.equal(401);
      expect(res.headers.get('www-authenticate')).to.equal('Bearer');
    }
    const basic = await fetch(
      `http://127.0.0.1:${server.port}${INVOICE_PDF_PATH}?invoice_number=${invoiceNumber}`,
      {
        headers: { Authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` },
      },
    );
    expect(basic.status).to.equal(401);
    expect(sandbox.journal.entries({ path: '/invoice' }).length).to.equal(before);
  });

  it('is off by default: the path is an unknown 404 and the setting needs a token', async () => {
    const config = loadConfig({}, []);
    expect(config.invoicePdf).to.deep.equal({ enabled: false, token: '' });
    const off = await startOpsServer({ port: 0, registry: new Registry(), checks: {} });
    try {
      const res = await get(`?invoice_number=${invoiceNumber}`, TOKEN, off);
      expect(res.status).to.equal(404);
      expect(((await res.json()) as { endpoints: string[] }).endpoints).not.to.include(INVOICE_PDF_PATH);
    } finally {
      await off.close();
    }
    expect(() => loadConfig({ INVOICE_PDF_ROUTE: 'true' }, [])).to.throw(
      ConfigError,
      /INVOICE_PDF_TOKEN is required/,
    );
    expect(() => loadConfig({ INVOICE_PDF_ROUTE: 'true', INVOICE_PDF_TOKEN: 'short' }, [])).to.throw(
      ConfigError,
    );
    expect(loadConfig({ INVOICE_PDF_ROUTE: 'true', INVOICE_PDF_TOKEN: TOKEN }, []).invoicePdf).to.deep.equal({
      enabled: true,
      token: TOKEN,
    });
  });

  it('answers a generic 502 when OpenCell fails, echoing neither its address nor its credentials', async () => {
    const dead = new OpenCellClient({
      baseUrl: 'http://127.0.0.1:1/opencell',
      user: USER,
      password: PASSWORD,
      timeoutMs: 500,
      concurrency: 1,
    });
    const failing = await startOpsServer({
      port: 0,
      registry: new Registry(),
      checks: {},
      invoicePdf: { token: TOKEN, fetchPdf: (n) => dead.getInvoicePdf(n), onError: (e) => errors.push(e) },
    });
    try {
      const n = errors.length;
      const res = await get(`?invoice_number=${invoiceNumber}`, TOKEN, failing);
      expect(res.status).to.equal(502);
      expect(errors.length).to.equal(n + 1); // the failure did happen, and was reported to the server's log
      const text = await res.text();
      for (const secret of [PASSWORD, USER, '127.0.0.1:1', TOKEN]) expect(text).not.to.include(secret);
    } finally {
      await failing.close();
      dead.close();
    }
  });
});
