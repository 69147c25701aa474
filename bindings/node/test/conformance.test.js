'use strict';
// tests/conformance/cases.json through the Node API: the same statuses as the C ABI reference runner.
// WAYMARK_COLLECTOR (the waymark-collector executable) is needed for the cases that upload; CTest sets it.
const test = require('node:test');
const assert = require('node:assert');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { Client, WaymarkError, Status, EventType, Channel, Purpose, IdKind, DeviceMode, Durability, Stat } = require('..');

const cases = process.env.WAYMARK_CONFORMANCE_CASES || path.join(__dirname, '..', '..', '..', 'tests', 'conformance', 'cases.json');
const brandKey = Buffer.concat([Buffer.from([0x57, 0x61, 0x79, 0x6d, 0x61, 0x72, 0x6b, 1, 2, 3, 4, 5, 6, 7, 8, 9]), Buffer.alloc(16)]);
const upper = (s) => s.toUpperCase();

// A string of a case: text, {hex} (bytes that need not be UTF-8) or {repeat, count}.
function text(spec) {
  if (typeof spec === 'string') return spec;
  if (spec.hex !== undefined) return Buffer.from(spec.hex, 'hex');
  return spec.repeat.repeat(spec.count);
}

async function startCollector(binary, dir) {
  const out = execFileSync(binary, ['keys', 'generate', '--data-dir', dir, '--key-id', '1']).toString();
  const publicKey = Buffer.from(/public_key=([0-9a-f]{64})/.exec(out)[1], 'hex');
  const log = path.join(dir, 'collector.log');
  const child = spawn(binary, ['serve', '--data-dir', dir, '--port', '0'], { stdio: ['ignore', 'ignore', fs.openSync(log, 'w')] });
  for (let i = 0; i < 300; ++i) {
    const m = fs.existsSync(log) && /listening on 127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(log, 'utf8'));
    if (m) return { child, publicKey, port: Number(m[1]) };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error('the collector did not start');
}

function acceptedEvents(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        const m = /^waymark_events_accepted_total (\d+)$/m.exec(body);
        resolve(m ? Number(m[1]) : 0);
      });
    }).on('error', reject);
  });
}

function check(s, value) {
  if (s.value !== undefined) assert.deepStrictEqual(value, s.value, `${s.op}: value`);
  if (s.min !== undefined) assert.ok(value >= s.min, `${s.op}: expected at least ${s.min}, got ${value}`);
}

class Run {
  constructor(dir) { this.dir = dir; this.stores = 0; }

  async step(s) {
    try {
      const status = await this[s.op](s);
      return Object.keys(Status).find((k) => Status[k] === status);
    } catch (e) {
      if (e instanceof WaymarkError) return e.code;
      throw e;
    }
  }

  async open(s) {
    if ((s.store || 'fresh') === 'fresh') this.store = path.join(this.dir, `store-${++this.stores}`);
    const options = {
      storePath: this.store, appId: 'conformance', brandKey, defaultRegion: 'GB',
      deviceMode: s.mode === 'shared' ? DeviceMode.SHARED : DeviceMode.PERSONAL,
      durability: s.durability === 'durable' ? Durability.DURABLE : Durability.ASYNC, childMode: !!s.child_mode,
    };
    if (s.upload) {
      if (!this.collector) {
        assert.ok(process.env.WAYMARK_COLLECTOR, 'WAYMARK_COLLECTOR must name the waymark-collector executable');
        fs.mkdirSync(path.join(this.dir, 'collector'));
        this.collector = await startCollector(process.env.WAYMARK_COLLECTOR, path.join(this.dir, 'collector'));
      }
      options.collectorUrl = `http://127.0.0.1:${this.collector.port}/v1/batches`;
      options.collectorKeys = [[1, this.collector.publicKey]];
      options.retryPolicy = [50, 500, 2000, 5000];
    }
    this.client = new Client(options);
    return this.client.recovered ? Status.STORE_RECOVERED : Status.OK;
  }

  close() { this.client.close(); return Status.OK; }

  static event(e) {
    const properties = Object.fromEntries(Object.entries(e.properties || {}).map(([k, v]) => [k, typeof v === 'object' ? text(v) : v]));
    // JSON keeps 9.5 a float and 2 an integer; so does the addon (a whole number is an int property).
    return {
      type: EventType[upper(e.type)], name: text(e.name),
      channel: e.channel && Channel[upper(e.channel)], purpose: e.purpose && Purpose[upper(e.purpose)], properties,
      revenueMinor: e.revenue && e.revenue.minor, revenueDecimal: e.revenue && e.revenue.decimal,
      currency: e.revenue && e.revenue.currency, campaign: e.campaign,
    };
  }

  record(s) { return this.client.record(Run.event(s.event)); }

  record_batch(s) {
    const statuses = this.client.recordBatch(s.events.map(Run.event));
    const names = statuses.map((st) => Object.keys(Status).find((k) => Status[k] === st));
    if (s.statuses) assert.deepStrictEqual(names, s.statuses);
    return statuses.includes(Status.DROPPED_NO_CONSENT) ? Status.DROPPED_NO_CONSENT : Status.OK;
  }

  identify(s) { return this.client.identify(IdKind[upper(s.kind)], text(s.value)); }

  set_consent(s) { return this.client.setConsent(Purpose[upper(s.purpose)], s.granted, 'conformance-1'); }

  get_consent(s) { check(s, this.client.getConsent(Purpose[upper(s.purpose)])); return Status.OK; }

  begin_customer() { this.client.beginCustomer(); return Status.OK; }

  end_customer() { this.client.endCustomer(); return Status.OK; }

  forget() { this.client.forget(); return Status.OK; }

  async flush(s) { await this.client.flush(s.timeout_ms); return Status.OK; }

  stat(s) { check(s, this.client.stat(Stat[upper(s.stat)])); return Status.OK; }

  async collector_events(s) { check(s, await acceptedEvents(this.collector.port)); return Status.OK; }

  async stop() {
    if (!this.collector) return;
    const exited = new Promise((resolve) => this.collector.child.once('exit', resolve));
    this.collector.child.kill('SIGTERM');
    await exited;
  }
}

const doc = JSON.parse(fs.readFileSync(cases, 'utf8'));
assert.strictEqual(doc.format, 1);
for (const c of doc.cases) {
  test(c.name, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-node-conformance-'));
    const run = new Run(dir);
    try {
      let i = 0;
      for (const s of c.steps) {
        ++i;
        assert.strictEqual(await run.step(s), s.expect || 'OK', `step ${i} (${s.op})`);
      }
    } finally {
      await run.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
