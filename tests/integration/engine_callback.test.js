// SPDX-License-Identifier: MIT
// engine_callback.test.js - callbacks (contract: Callbacks; SEC-03, SEC-25): exact query,
// '&' after an existing query, step=error, retries on 5xx/429, final 4xx, no redirects, 6 tries.
'use strict';
const { expect } = require('chai');
const { startServer } = require('../lib/server');
const U = require('../lib/safety_util');

describe('callbacks (contract: Callbacks; SEC-25)', function () {
    this.timeout(20000);
    let server;
    let api;
    let cb;
    const script = {}; // pathname → list of status codes to answer, in order (last repeats)
    const procs = {};  // pathname → created process

    before(async function () {
        this.timeout(30000);
        const counts = {};
        cb = await U.startRecorder({ fallback: (req, res, u) => {
            const codes = script[u.pathname] || [200];
            const n = counts[u.pathname] = (counts[u.pathname] || 0) + 1;
            const code = codes[Math.min(n, codes.length) - 1];
            const headers = { 'Content-Type': 'text/plain' };
            if (code === 302)
                headers.Location = cb.url('/redirect-target');
            if (code === 429)
                headers['Retry-After'] = '1';
            res.writeHead(code, headers);
            res.end(String(code));
        } });
        server = await startServer({ args: ['--test-converters', '--allow-private-urls',
            '--callback-retry-delay', '1'] });
        api = new U.Api(server);

        // every scenario runs at once; each `it` then waits for its own path
        const scenarios = [
            ['/finished', [200], 'ok', ''],
            ['/with-query', [200], 'ok', '?token=abc&x=1'],
            ['/error', [200], 'fail', ''],
            ['/flaky', [500, 500, 200], 'ok', ''],
            ['/gone', [404], 'ok', ''],
            ['/redirect', [302], 'ok', ''],
            ['/busy', [429, 200], 'ok', ''],
            ['/down', [503], 'ok', ''],
        ];
        await Promise.all(scenarios.map(async ([p, codes, action, query]) => {
            script[p] = codes;
            const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            const res = await api.start(proc, { input: 'raw', file: 'x', filename: 'x.fake',
                converteroptions: { action, percent_steps: 1 }, callback: cb.url(p + query) });
            expect(res.status, p + ': ' + U.describeRes(res)).to.equal(200);
            procs[p] = proc;
        }));
    });

    after(async function () {
        if (server) {
            await server.stop();
            server.cleanup();
        }
        if (cb)
            await cb.close();
    });

    function hits(p) {
        return cb.requests.filter((q) => new URL(q.url, 'http://x').pathname === p);
    }

    // Wait until `p` got `n` requests (or `ms` passed), then until `settle` ms have passed
    // since its last request (to see that no further one comes); returns the hits.
    async function waitHits(p, n, ms, settle) {
        const deadline = Date.now() + ms;
        while (hits(p).length < n && Date.now() < deadline)
            await U.sleep(50);
        if (settle) {
            const h = hits(p);
            const last = h.length ? h[h.length - 1].time : Date.now();
            const left = last + settle - Date.now();
            if (left > 0)
                await U.sleep(left);
        }
        return hits(p);
    }

    function expectQuery(q, proc, step) {
        expect(q.method).to.equal('GET');
        const u = new URL(q.url, 'http://x');
        expect([...u.searchParams.keys()].sort()).to.deep.equal(['id', 'step', 'url']);
        expect(u.searchParams.get('id')).to.equal(proc.id);
        expect(u.searchParams.get('url')).to.equal(proc.url);
        expect(u.searchParams.get('step')).to.equal(step);
    }

    it('on finished: GET with exactly id, url (the process url string) and step=finished', async function () {
        const h = await waitHits('/finished', 1, 8000, 1500);
        expect(h.length).to.equal(1);
        expectQuery(h[0], procs['/finished'], 'finished');
    });

    it('a callback URL with a query gets the three parameters appended with "&"', async function () {
        const h = await waitHits('/with-query', 1, 8000, 0);
        expect(h.length).to.be.at.least(1);
        const raw = h[0].url.slice(h[0].url.indexOf('?') + 1);
        expect(raw.startsWith('token=abc&x=1&'), h[0].url).to.equal(true);
        expect(h[0].url.split('?').length, 'one "?" only: ' + h[0].url).to.equal(2);
        const u = new URL(h[0].url, 'http://x');
        expect([...u.searchParams.keys()]).to.deep.equal(['token', 'x', 'id', 'url', 'step']);
        expect(u.searchParams.get('token')).to.equal('abc');
        expect(u.searchParams.get('id')).to.equal(procs['/with-query'].id);
        expect(u.searchParams.get('url')).to.equal(procs['/with-query'].url);
        expect(u.searchParams.get('step')).to.equal('finished');
    });

    it('on error: step=error', async function () {
        const h = await waitHits('/error', 1, 8000, 0);
        expect(h.length).to.be.at.least(1);
        expectQuery(h[0], procs['/error'], 'error');
        const st = await api.status(procs['/error']);
        expect(st.status).to.equal(422);
    });

    it('500, 500, 200 → exactly 3 requests', async function () {
        const h = await waitHits('/flaky', 3, 10000, 2500);
        expect(h.length).to.equal(3);
        for (const q of h)
            expectQuery(q, procs['/flaky'], 'finished');
    });

    it('retries are about --callback-retry-delay (1 s) apart', function () {
        const h = hits('/flaky');
        expect(h.length).to.equal(3);
        for (let i = 1; i < h.length; i++)
            expect(h[i].time - h[i - 1].time, 'gap ' + i).to.be.within(800, 4000);
    });

    it('404 is final → exactly 1 request', async function () {
        const h = await waitHits('/gone', 1, 8000, 3000);
        expect(h.length).to.equal(1);
    });

    it('a 302 is not followed (and is final): 1 request, the target gets none', async function () {
        const h = await waitHits('/redirect', 1, 8000, 3000);
        expect(h.length).to.equal(1);
        expect(hits('/redirect-target').length).to.equal(0);
    });

    it('429 is retried: 429 then 200 → exactly 2 requests', async function () {
        const h = await waitHits('/busy', 2, 8000, 2500);
        expect(h.length).to.equal(2);
    });

    it('a permanent 503 → 6 attempts in all, no more', async function () {
        this.timeout(25000);
        const h = await waitHits('/down', 6, 15000, 3000);
        expect(h.length).to.equal(6);
    });
});
