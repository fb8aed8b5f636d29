// Unit tests of the guard's decisions with a fake resolver. Every refusal here happens before a socket is
// opened, so none of these tests reaches the network (the int-spec in test/integration/egress checks real connections inside a
// network namespace).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EgressGuard, type HostResolver, type ResolvedAddress } from './egress-guard';
import { UrlFetchFailedError, UrlNotAllowedError } from './egress-errors';

function fakeResolver(table: Record<string, string[]>): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

async function refusal(guard: EgressGuard, url: string): Promise<UrlNotAllowedError> {
  try {
    await guard.checkUrl(url);
  } catch (error) {
    assert.ok(error instanceof UrlNotAllowedError, `${url}: expected UrlNotAllowedError, got ${String(error)}`);
    assert.equal(error.code, 'url_not_allowed');
    return error;
  }
  assert.fail(`${url} was allowed`);
}

describe('EgressGuard.checkUrl', () => {
  const resolver = fakeResolver({
    'public.example': ['93.184.216.34'],
    'v6.example': ['2606:4700:4700::1111'],
    'loopback.example': ['127.0.0.1'],
    'metadata.example': ['169.254.169.254'],
    'mixed.example': ['93.184.216.34', '10.0.0.7'],
    'mapped.example': ['::ffff:10.0.0.7'],
    'ula.example': ['fd00::1'],
    'receiver.example': ['127.0.0.2'],
    'empty.example': [],
  });
  const guard = new EgressGuard({ resolver, allowlist: '127.0.0.2/32' });

  it('refuses IP literals in every notation without asking DNS', async () => {
    const before = resolver.calls.length;
    const literals: Record<string, string> = {
      'http://127.0.0.1/': '127.0.0.1',
      'http://2130706433/': '127.0.0.1',
      'http://0x7f000001/': '127.0.0.1',
      'http://0177.0.0.1/': '127.0.0.1',
      'http://127.1/': '127.0.0.1',
      'http://127.0.0.1./': '127.0.0.1',
      'http://[::1]:8080/': '::1',
      'http://[::ffff:127.0.0.1]/': '127.0.0.1',
      'http://[::ffff:a9fe:a9fe]/': '169.254.169.254',
      'http://169.254.169.254/latest/meta-data/': '169.254.169.254',
      'http://10.0.0.1/': '10.0.0.1',
      'http://100.64.1.1/': '100.64.1.1',
      'http://0.0.0.0/': '0.0.0.0',
      'http://0/': '0.0.0.0',
      'http://224.0.0.1/': '224.0.0.1',
      'http://255.255.255.255/': '255.255.255.255',
      'http://[fe80::1]/': 'fe80::1',
      'http://[fd00::1]/': 'fd00::1',
      'https://198.18.0.1/': '198.18.0.1',
      'https://192.0.2.1/': '192.0.2.1',
    };
    for (const [url, address] of Object.entries(literals)) {
      const error = await refusal(guard, url);
      assert.equal(error.reason, 'address', url);
      assert.equal(error.address, address, url);
    }
    assert.equal(resolver.calls.length, before);
  });

  it('refuses names that resolve to special-purpose addresses', async () => {
    for (const host of ['loopback.example', 'metadata.example', 'mapped.example', 'ula.example']) {
      const error = await refusal(guard, `https://${host}/hook`);
      assert.match(error.message, new RegExp(host.replace('.', '\\.')));
    }
  });

  it('refuses a name when any of its addresses is refused', async () => {
    const error = await refusal(guard, 'https://mixed.example/');
    assert.equal(error.address, '10.0.0.7');
  });

  it('allows public names and pins the checked address', async () => {
    const target = await guard.checkUrl('https://public.example:8443/path?q=1');
    assert.equal(target.address, '93.184.216.34');
    assert.equal(target.family, 4);
    assert.equal(target.hostname, 'public.example');
    assert.equal(target.literal, false);
    const v6 = await guard.checkUrl('http://v6.example/');
    assert.deepEqual([v6.address, v6.family], ['2606:4700:4700::1111', 6]);
  });

  it('exempts exactly the allowlisted address', async () => {
    assert.equal((await guard.checkUrl('http://127.0.0.2:9000/')).address, '127.0.0.2');
    assert.equal((await guard.checkUrl('http://receiver.example/')).address, '127.0.0.2');
    assert.equal((await guard.checkUrl('http://[::ffff:127.0.0.2]/')).address, '127.0.0.2');
    await refusal(guard, 'http://127.0.0.3/');
    await refusal(new EgressGuard({ resolver }), 'http://127.0.0.2/');
  });

  it('refuses other schemes and malformed URLs', async () => {
    for (const url of [
      'file:///etc/passwd',
      'ftp://public.example/',
      'gopher://public.example/',
      'data:text/plain,x',
    ]) {
      assert.equal((await refusal(guard, url)).reason, 'scheme', url);
    }
    for (const url of ['not a url', '/relative/path', 'http://']) {
      assert.equal((await refusal(guard, url)).reason, 'invalid_url', url);
    }
  });

  it('reports unresolvable names as url_fetch_failed', async () => {
    for (const url of ['http://nowhere.example/', 'http://empty.example/']) {
      await assert.rejects(guard.checkUrl(url), (error: unknown) => {
        assert.ok(error instanceof UrlFetchFailedError);
        assert.equal(error.code, 'url_fetch_failed');
        assert.equal(error.reason, 'dns');
        return true;
      });
    }
  });
});

describe('EgressGuard.fetch refusals', () => {
  it('refuses before connecting', async () => {
    const guard = new EgressGuard({ resolver: fakeResolver({ 'internal.example': ['10.0.0.1'] }) });
    for (const url of ['http://internal.example/', 'http://169.254.169.254/', 'http://2130706433/']) {
      await assert.rejects(
        guard.fetch(url, { timeoutMs: 1000, maxBytes: 1024, followRedirects: true }),
        UrlNotAllowedError,
        url,
      );
    }
  });

  it('times out a resolver that never answers', async () => {
    const guard = new EgressGuard({ resolver: () => new Promise<never>(() => undefined) });
    await assert.rejects(guard.fetch('http://slow.example/', { timeoutMs: 50, maxBytes: 1 }), (error: unknown) => {
      assert.ok(error instanceof UrlFetchFailedError);
      assert.equal(error.reason, 'timeout');
      return true;
    });
  });
});
