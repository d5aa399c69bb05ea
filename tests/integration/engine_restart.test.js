// SPDX-License-Identifier: MIT
// engine_restart.test.js - crash recovery (SEC-21, SEC-24, SEC-25; contract: Lifetimes and
// restarts): kill -9 mid-conversion, no orphan workers, upload URLs and callbacks survive.
'use strict';
const { expect } = require('chai');
const { startServer } = require('../lib/server');
const U = require('../lib/safety_util');

describe('restarts (SEC-24, SEC-25, contract: Lifetimes and restarts)', function () {
    this.timeout(20000);
    let server;
    let api;
    let cb;
    let cbFail = true;

    before(async function () {
        this.timeout(30000);
        cb = await U.startRecorder({ fallback: (req, res) => {
            const code = cbFail ? 500 : 200;
            req.answered = code;
            res.writeHead(code, { 'Content-Type': 'text/plain' });
            res.end(String(code));
        } });
        server = await startServer({ workers: 2, args: ['--test-converters', '--allow-private-urls',
            '--callback-retry-delay', '2'] });
        api = new U.Api(server);
    });

    after(async function () {
        if (server) {
            await server.stop();
            server.cleanup();
        }
        if (cb)
            await cb.close();
    });

    function job(options, extra) {
        return Object.assign({ input: 'raw', file: 'fake input', filename: 'in.fake',
            converteroptions: options }, extra || {});
    }

    describe('kill -9 of the server during a conversion', function () {
        let proc;
        let oldPid;
        let workersDuring;
        let workersAfter;
        let fin;
        const steps = [];

        before(async function () {
            this.timeout(40000);
            proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            const start = await api.start(proc, job({ action: 'sleep', seconds: 4, percent_steps: 4 }));
            expect(start.status, U.describeRes(start)).to.equal(200);
            const running = await api.pollUntil(proc, (st) => st.step === 'convert', 5000, 50);
            expect(running.json.step).to.equal('convert');
            await U.sleep(500);
            oldPid = server.proc.pid;
            workersDuring = U.workerPids(oldPid);
            await server.kill9();
            await U.sleep(2000);
            workersAfter = U.workerPids(oldPid);
            await server.start();
            // poll (not only ?wait): record every step seen after the restart
            const deadline = Date.now() + 20000;
            for (;;) {
                const res = await api.status(proc);
                steps.push(res.json && res.json.step);
                if (res.status !== 200 || ['finished', 'error'].includes(res.json.step) ||
                    Date.now() > deadline) {
                    fin = res;
                    break;
                }
                await U.sleep(200);
            }
        });

        it('the killed server had its workers while converting', function () {
            expect(workersDuring.length).to.equal(2);
        });

        it('2 s after kill -9 none of its workers is alive', function () {
            expect(workersAfter, 'surviving worker pids').to.deep.equal([]);
        });

        it('after the restart the process ends finished (re-run) or error within 20 s', function () {
            expect(fin.json, U.describeRes(fin)).to.be.an('object');
            expect(['finished', 'error'], 'steps seen: ' + JSON.stringify(steps)).to.include(fin.json.step);
            expect([200, 422]).to.include(fin.status);
        });

        it('a re-run output is whole (the input bytes), or the error says why', async function () {
            if (fin.json.step === 'finished') {
                const dl = await U.request({ url: U.abs(fin.json.output.url) });
                expect(dl.status).to.equal(200);
                expect(dl.text).to.equal('fake input');
            } else {
                expect(fin.json.message).to.match(/restart|interrupt/i);
            }
        });

        it('the new server has exactly its own 2 workers', function () {
            expect(U.workerPids(server.proc.pid).length).to.equal(2);
        });
    });

    describe('a process waiting for its upload, across a restart', function () {
        let proc;
        let st;

        before(async function () {
            this.timeout(30000);
            proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            st = U.expectStatus(await api.start(proc, { input: 'upload',
                converteroptions: { action: 'ok', percent_steps: 1 } }), 200).json;
            expect(st.step).to.equal('input');
            await server.restart();
        });

        it('keeps step input after the restart', async function () {
            const res = await api.status(proc);
            expect(res.status, U.describeRes(res)).to.equal(200);
            expect(res.json.step).to.equal('input');
            expect(res.json.upload, 'upload object').to.deep.equal(st.upload);
        });

        it('the old upload URL still takes the file and the conversion finishes', async function () {
            const put = await api.upload(st, 'late.fake', Buffer.from('uploaded after restart'));
            expect(put.status, U.describeRes(put)).to.equal(200);
            const fin = await api.status(proc, true);
            expect(fin.status, U.describeRes(fin)).to.equal(200);
            expect(fin.json.step).to.equal('finished');
            const dl = await U.request({ url: U.abs(fin.json.output.url) });
            expect(dl.text).to.equal('uploaded after restart');
        });
    });

    describe('a pending callback survives a restart', function () {
        let proc;
        let restartedAt;
        let delivered;

        before(async function () {
            this.timeout(40000);
            cbFail = true;
            proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            const start = await api.start(proc, job({ action: 'ok', percent_steps: 1 },
                { callback: cb.url('/hook') }));
            expect(start.status, U.describeRes(start)).to.equal(200);
            const fin = await api.status(proc, true);
            expect(fin.json.step).to.equal('finished');
            let deadline = Date.now() + 5000;
            while (cb.requests.length === 0 && Date.now() < deadline)
                await U.sleep(50);
            expect(cb.requests.length, 'first attempt (answered 500)').to.be.at.least(1);
            await server.restart();
            restartedAt = Date.now();
            cbFail = false;
            deadline = Date.now() + 15000;
            while (!delivered && Date.now() < deadline) {
                delivered = cb.requests.find((q) => q.time >= restartedAt && q.url.startsWith('/hook'));
                await U.sleep(100);
            }
        });

        it('the callback arrives after the restart', function () {
            expect(delivered, 'requests: ' + JSON.stringify(cb.requests.map((q) => q.url))).to.not.equal(undefined);
        });

        it('with exactly the query parameters id, url, step=finished', function () {
            expect(delivered.method).to.equal('GET');
            const u = new URL(delivered.url, 'http://x');
            expect(u.pathname).to.equal('/hook');
            expect([...u.searchParams.keys()].sort()).to.deep.equal(['id', 'step', 'url']);
            expect(u.searchParams.get('id')).to.equal(proc.id);
            expect(u.searchParams.get('url')).to.equal(proc.url);
            expect(u.searchParams.get('step')).to.equal('finished');
        });
    });
});
