'use strict';
// The Node API over the C ABI: what it returns, and that bad input is a clean JS error, never a crash.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const waymark = require('..');

const { Client, EventType, IdKind, Purpose, Stat, Status, Channel, WaymarkError } = waymark;
const brandKey = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));

function withClient(fn, extra = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-node-'));
  const client = new Client({ storePath: path.join(dir, 'store'), appId: 'node-test', brandKey, defaultRegion: 'GB', ...extra });
  return Promise.resolve(fn(client, dir)).finally(() => {
    client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

const throwsStatus = (fn, code) => assert.throws(fn, (e) => e instanceof WaymarkError && e.code === code && e.status === Status[code]);

test('recordBatch: statuses per event, one unit, errors store nothing', () => withClient(async (c) => {
  c.setConsent(Purpose.ANALYTICS, true, '2026-01');
  assert.deepStrictEqual(c.recordBatch([
    { type: EventType.TRACK, name: 'line' },
    { type: EventType.TRACK, name: 'ad', purpose: Purpose.ADVERTISING },
  ]), [Status.OK, Status.DROPPED_NO_CONSENT]);
  throwsStatus(() => c.recordBatch([]), 'ERR_INVALID_ARGUMENT');
  throwsStatus(() => c.recordBatch([{ type: EventType.TRACK, name: 'ok' }, { type: EventType.TRACK, name: '' }]),
    'ERR_INVALID_ARGUMENT');
  assert.throws(() => c.recordBatch('x'), TypeError);
  await c.flush(5000);
  assert.strictEqual(c.stats().queued, 2); // consent and the one consented line
}));

test('record, identify, consent, stats and an async flush', () => withClient(async (c, dir) => {
  assert.strictEqual(c.recovered, false);
  assert.strictEqual(c.record({ type: EventType.TRACK, name: 'before consent' }), Status.DROPPED_NO_CONSENT);
  assert.strictEqual(c.setConsent(Purpose.ANALYTICS, true, '2026-01'), Status.OK);
  assert.strictEqual(c.getConsent(Purpose.ANALYTICS), true);
  assert.strictEqual(c.getConsent(Purpose.ADVERTISING), false);
  assert.strictEqual(c.identify(IdKind.EMAIL, 'Jane.Doe@example.com'), Status.OK);
  assert.strictEqual(c.record({
    type: EventType.PURCHASE, name: 'order', channel: Channel.POS, revenueMinor: 1999, currency: 'GBP',
    properties: { sku: 'A-1', qty: 2, price: 9.99, gift: true, big: 2n ** 40n, raw: Buffer.from('bytes') },
    campaign: { source: 'newsletter', medium: 'email' },
  }), Status.OK);
  assert.strictEqual(c.record({ type: EventType.CUSTOM, name: 'tip', revenueDecimal: 1.5, currency: 'EUR' }), Status.OK);
  const pending = c.flush(5000);
  assert.ok(pending instanceof Promise);
  await pending;
  assert.deepStrictEqual({ queued: c.stats().queued, refused: c.stat(Stat.REFUSED) }, { queued: 4, refused: 1 });
  // Privacy: nothing the SDK wrote holds the raw identifier.
  for (const f of fs.readdirSync(path.join(dir, 'store'), { recursive: true })) {
    const p = path.join(dir, 'store', f);
    if (fs.statSync(p).isFile()) assert.ok(!fs.readFileSync(p).toString('latin1').toLowerCase().includes('jane.doe'), p);
  }
}));

test('verified identity and erasure tokens: the device key, assertions and tokens as bytes', () => withClient((c) => {
  c.setConsent(Purpose.ANALYTICS, true);
  const key = c.deviceKey();
  assert.ok(Buffer.isBuffer(key));
  assert.strictEqual(key.length, 32);
  assert.deepStrictEqual(c.deviceKey(), key);
  assert.strictEqual(c.identifyVerified(IdKind.ACCOUNT_ID, 'A-1001', new Uint8Array([1, 2, 3])), Status.OK);
  throwsStatus(() => c.identifyVerified(IdKind.ACCOUNT_ID, 'A-1001', new Uint8Array(0)), 'ERR_INVALID_ARGUMENT');
  assert.throws(() => c.identifyVerified(IdKind.ACCOUNT_ID, 'A-1001', 42), TypeError);
  throwsStatus(() => c.forget(new Uint8Array(8193)), 'ERR_INVALID_ARGUMENT');
  c.forget(new Uint8Array([7, 7]));
}));

test('library errors carry their status and code', () => withClient((c) => {
  c.setConsent(Purpose.ANALYTICS, true);
  throwsStatus(() => c.identify(IdKind.EMAIL, 'test@test.com'), 'ERR_JUNK_IDENTIFIER');
  throwsStatus(() => c.record({ type: EventType.PURCHASE, name: 'o', revenueMinor: 1, currency: 'XYZ' }), 'ERR_UNKNOWN_CURRENCY');
  throwsStatus(() => c.beginCustomer(), 'ERR_INVALID_ARGUMENT');
  throwsStatus(() => c.record({ type: EventType.TRACK, name: 'n'.repeat(257) }), 'ERR_TOO_LARGE');
}));

test('invalid UTF-8 in a Buffer is refused by the library', () => withClient((c) => {
  c.setConsent(Purpose.ANALYTICS, true);
  throwsStatus(() => c.record({ type: EventType.TRACK, name: Buffer.from([0xff, 0xfe]) }), 'ERR_INVALID_UTF8');
  throwsStatus(() => c.identify(IdKind.EMAIL, Buffer.from([0x6a, 0xc3, 0x28])), 'ERR_INVALID_UTF8');
  throwsStatus(() => c.record({ type: EventType.TRACK, name: 'ok', properties: { k: Buffer.from([0xc0, 0xaf]) } }), 'ERR_INVALID_UTF8');
  assert.strictEqual(c.stat(Stat.QUEUED), 1);
}));

test('wrong types, null and undefined are TypeErrors', () => withClient((c) => {
  c.setConsent(Purpose.ANALYTICS, true);
  for (const bad of [
    () => c.record(null), () => c.record('event'), () => c.record({ type: 'track', name: 'x' }),
    () => c.record({ type: EventType.TRACK }), () => c.record({ type: EventType.TRACK, name: 42 }),
    () => c.record({ type: 99, name: 'x' }), () => c.record({ type: EventType.TRACK, name: 'x', channel: 'kiosk' }),
    () => c.record({ type: EventType.TRACK, name: 'x', properties: { k: { nested: 1 } } }),
    () => c.record({ type: EventType.TRACK, name: 'x', properties: { k: 2n ** 70n } }),
    () => c.record({ type: EventType.PURCHASE, name: 'x', revenueMinor: 100 }),
    () => c.record({ type: EventType.PURCHASE, name: 'x', revenueMinor: 1.5, currency: 'GBP' }),
    () => c.identify(IdKind.EMAIL, null), () => c.identify(undefined, 'a@b.example'), () => c.identify(IdKind.EMAIL),
    () => c.setConsent(Purpose.ANALYTICS, 'yes'), () => c.stat('queued'),
  ]) assert.throws(bad, TypeError);
  assert.throws(() => new Client(null), TypeError);
  assert.throws(() => new Client({ storePath: 1, appId: 'x', brandKey }), TypeError);
  assert.throws(() => new Client({ storePath: '/tmp/x', appId: 'x', brandKey, keyEpoch: 'one' }), TypeError);
  assert.strictEqual(c.stat(Stat.QUEUED), 1);
}));

test('bad options are library errors', () => {
  throwsStatus(() => new Client({ storePath: '/tmp/waymark-node-x', appId: 'x', brandKey: Buffer.from('short') }), 'ERR_INVALID_ARGUMENT');
  throwsStatus(() => new Client({ storePath: '/proc/waymark-no-such-dir', appId: 'x', brandKey }), 'ERR_STORE_IO');
});

test('a closed client answers ERR_CLOSED, also from flush', () => withClient(async (c) => {
  c.close();
  c.close();
  throwsStatus(() => c.record({ type: EventType.TRACK, name: 'late' }), 'ERR_CLOSED');
  throwsStatus(() => c.identify(IdKind.EMAIL, 'late@example.com'), 'ERR_CLOSED');
  await assert.rejects(c.flush(10), (e) => e instanceof WaymarkError && e.code === 'ERR_CLOSED');
}));

test('version', () => assert.match(waymark.version(), /^\d+\.\d+\.\d+/));
