// The e2e support helpers themselves, against the real binaries they start.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { Redis } from 'ioredis';
import { getFreePort } from '../../support/free-port';
import { runInNetns, runNodeInNetns } from '../../support/netns';
import { startRedisServer } from '../../support/redis-server';
import { startS3rver } from '../../support/s3rver';
import { startWebhookReceiver } from '../../support/webhook-receiver';

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function post(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('getFreePort', () => {
  it('returns a port that can be bound', async () => {
    const port = await getFreePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('startRedisServer', () => {
  it('starts a throw-away redis without persistence and stops it completely', async () => {
    const [first, second] = await Promise.all([startRedisServer(), startRedisServer()]);
    assert.notEqual(first.port, second.port);
    assert.equal(first.url, `redis://127.0.0.1:${first.port}`);
    const client = new Redis(first.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect();
    await client.set('k', 'v');
    assert.equal(await client.get('k'), 'v');
    assert.deepEqual(await client.config('GET', 'save'), ['save', '']);
    assert.deepEqual(await client.config('GET', 'appendonly'), ['appendonly', 'no']);
    client.disconnect();

    await Promise.all([first.stop(), second.stop()]);
    assert.equal(await accepts('127.0.0.1', first.port), false);
    assert.equal(existsSync(first.dir), false);
    await first.stop(); // idempotent
  });

  it('says how to install redis-server when it is missing', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await assert.rejects(startRedisServer(), /redis-server is not installed.*scripts\/ensure-redis/s);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('startS3rver', () => {
  it('serves its bucket on 127.0.0.1 and cleans up on stop', async () => {
    const s3 = await startS3rver({ bucket: 'support-check' });
    assert.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const listing = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      request(`${s3.endpoint}/support-check`, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(listing.status, 200);
    assert.match(listing.body, /<Name>support-check<\/Name>/);
    await s3.stop();
    assert.equal(await accepts('127.0.0.1', s3.port), false);
    assert.equal(existsSync(s3.dir), false);
  });
});

describe('startWebhookReceiver', () => {
  it('records raw requests and answers as scripted', async () => {
    const receiver = await startWebhookReceiver({ responses: [{ status: 500, body: 'no' }] });
    try {
      assert.match(receiver.url, /^http:\/\/127\.0\.0\.2:\d+$/);
      const first = await post(receiver.urlFor('/a'), '{"x":1}', { 'X-Custom': 'Value' });
      const second = await post(receiver.urlFor('b'), 'second');
      assert.deepEqual([first.status, first.body, second.status, second.body], [500, 'no', 200, 'ok']);
      const [a, b] = receiver.requests;
      assert.deepEqual([a.index, a.method, a.path, a.text], [0, 'POST', '/a', '{"x":1}']);
      assert.equal(a.headers['x-custom'], 'Value');
      assert.ok(a.rawHeaders.includes('X-Custom'));
      assert.equal(a.remoteAddress, '127.0.0.1');
      assert.equal(b.path, '/b');

      receiver.setResponder((req) => ({ status: req.path === '/gone' ? 410 : 201 }));
      assert.equal((await post(receiver.urlFor('/gone'), '')).status, 410);
      assert.equal((await post(receiver.urlFor('/made'), '')).status, 201);
    } finally {
      await receiver.stop();
    }
  });

  it('waitFor resolves on arrival and times out with what it got', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const waiting = receiver.waitForRequest((req) => req.path === '/late', 5000);
      await post(receiver.urlFor('/early'), 'e');
      await post(receiver.urlFor('/late'), 'l');
      assert.equal((await waiting).text, 'l');
      await assert.rejects(
        receiver.waitFor((all) => all.length > 5, 50),
        /within 50 ms; got 2 request\(s\)/,
      );
      receiver.clear();
      assert.equal(receiver.requests.length, 0);
    } finally {
      await receiver.stop();
    }
  });

  it('stops even while an answer is held back', async () => {
    const receiver = await startWebhookReceiver({ responses: [{ status: 200, delayMs: 60_000 }] });
    const pending = post(receiver.urlFor('/held'), '').catch((error: Error) => error);
    await receiver.waitFor((all) => all.length === 1);
    await receiver.stop();
    assert.ok((await pending) instanceof Error);
  });
});

describe('network namespace helper', () => {
  it('runs commands where only lo exists, isolated from the host loopback', async () => {
    const links = await runInNetns('ip', ['-o', 'link', 'show']);
    assert.equal(links.code, 0, links.stderr);
    assert.deepEqual(
      links.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(':')[1].trim()),
      ['lo'],
    );

    const hostServer = await startWebhookReceiver({ host: '127.0.0.2' });
    try {
      const script = `
        const socket = require('node:net').connect(${hostServer.port}, '127.0.0.2');
        socket.on('connect', () => { console.log(JSON.stringify({ reached: true })); process.exit(0); });
        socket.on('error', (e) => { console.log(JSON.stringify({ reached: false, code: e.code })); });`;
      const result = await runNodeInNetns<{ reached: boolean; code: string }>('-e', [script]);
      assert.deepEqual(result, { reached: false, code: 'ECONNREFUSED' });
    } finally {
      await hostServer.stop();
    }
  });

  it('reports a failing script with its output', async () => {
    await assert.rejects(runNodeInNetns('-e', ['console.error("boom"); process.exit(3)']), /exited 3[\s\S]*boom/);
  });
});
