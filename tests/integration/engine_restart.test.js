// SPDX-License-Identifier: MIT
// engine_restart.test.js - crash recovery (SEC-21, SEC-24, SEC-25; contract: Lifetimes and
// restarts): kill -9 mid-conversion, no orphan workers, upload URLs and callbacks survive.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const net = require('net');
const path = require('path');
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

    it('the database runs in WAL mode (SEC-23: file header bytes 18 and 19 are 2)', function () {
        const head = Buffer.alloc(100);
        const fd = fs.openSync(path.join(server.dataDir, 'convertd.db'), 'r');
        fs.readSync(fd, head, 0, 100, 0);
        fs.closeSync(fd);
        expect(head.slice(0, 16).toString('latin1')).to.equal('SQLite format 3\0');
        expect([head[18], head[19]]).to.deep.equal([2, 2]);
    });

    describe('kill -9 of the server during conversions', function () {
        let done;    // finished before the kill (save=true)
        let running; // two 4 s sleep jobs on the 2 workers
        let queued;  // a third job waiting for a worker
        let oldPid;
        let workersDuring;
        let workersAfter;
        let queuedStep;
        const fin = {};
        const steps = {};

        before(async function () {
            this.timeout(40000);
            done = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            U.expectStatus(await api.start(done, job({ action: 'ok', percent_steps: 1 },
                { file: 'finished before the kill', save: true })), 200);
            expect((await api.status(done, true)).json.step).to.equal('finished');

            running = [];
            for (let i = 0; i < 2; i++) {
                const p = await api.create({ inputformat: 'fake', outputformat: 'txt' });
                U.expectStatus(await api.start(p, job({ action: 'sleep', seconds: 4, percent_steps: 4 },
                    { file: 'running ' + i })), 200);
                running.push(p);
            }
            for (const p of running) {
                const r = await api.pollUntil(p, (st) => st.step === 'convert', 5000, 50);
                expect(r.json.step).to.equal('convert');
            }
            queued = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            U.expectStatus(await api.start(queued, job({ action: 'sleep', seconds: 1, percent_steps: 1 },
                { file: 'queued' })), 200);
            queuedStep = (await api.status(queued)).json.step;
            await U.sleep(300);
            oldPid = server.proc.pid;
            workersDuring = U.workerPids(oldPid);
            await server.kill9();
            await U.sleep(2000);
            workersAfter = U.workerPids(oldPid);
            await server.start();
            // poll (not only ?wait): record every step seen after the restart
            const all = [...running, queued];
            const deadline = Date.now() + 20000;
            while (Object.keys(fin).length < all.length) {
                for (const p of all) {
                    if (fin[p.id])
                        continue;
                    const res = await api.status(p);
                    (steps[p.id] = steps[p.id] || []).push(res.json && res.json.step);
                    if (res.status !== 200 || ['finished', 'error'].includes(res.json.step) ||
                        Date.now() > deadline)
                        fin[p.id] = res;
                }
                await U.sleep(200);
            }
        });

        it('the killed server had its 2 workers while converting', function () {
            expect(workersDuring.length).to.equal(2);
            expect(queuedStep).to.equal('wait');
        });

        it('2 s after kill -9 none of its workers is alive', function () {
            expect(workersAfter, 'surviving worker pids').to.deep.equal([]);
        });

        it('after the restart the interrupted processes end finished (re-run) or error within 20 s', function () {
            for (const p of running) {
                const r = fin[p.id];
                expect(r.json, U.describeRes(r)).to.be.an('object');
                expect(['finished', 'error'], 'steps seen: ' + JSON.stringify(steps[p.id]))
                    .to.include(r.json.step);
                expect([200, 422]).to.include(r.status);
            }
        });

        it('a re-run output is whole (its input bytes), or the error says why', async function () {
            for (let i = 0; i < running.length; i++) {
                const r = fin[running[i].id];
                if (r.json.step === 'finished') {
                    const dl = await U.request({ url: U.abs(r.json.output.url) });
                    expect(dl.status).to.equal(200);
                    expect(dl.text).to.equal('running ' + i);
                } else {
                    expect(r.json.message).to.match(/restart|interrupt/i);
                }
            }
        });

        it('the process that was waiting for a worker is queued again and finishes', async function () {
            const r = fin[queued.id];
            expect(r.status, 'steps seen: ' + JSON.stringify(steps[queued.id]) + ' ' + U.describeRes(r))
                .to.equal(200);
            expect(r.json.step).to.equal('finished');
            const dl = await U.request({ url: U.abs(r.json.output.url) });
            expect(dl.text).to.equal('queued');
        });

        it('the process finished before the kill keeps its status and its whole output', async function () {
            const st = await api.status(done);
            expect(st.status).to.equal(200);
            expect(st.json.step).to.equal('finished');
            const dl = await U.request({ url: U.abs(st.json.output.url) });
            expect(dl.status).to.equal(200);
            expect(dl.text).to.equal('finished before the kill');
        });

        it('the new server has exactly its own 2 workers', function () {
            expect(U.workerPids(server.proc.pid).length).to.equal(2);
        });
    });

    describe('a job interrupted by kill -9 three times', function () {
        let proc;
        const seen = [];
        let fin;

        before(async function () {
            this.timeout(45000);
            proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            U.expectStatus(await api.start(proc, job({ action: 'sleep', seconds: 30, percent_steps: 30 })), 200);
            for (let i = 0; i < 3; i++) {
                const r = await api.pollUntil(proc, (st) => st.step !== 'wait' && st.step !== 'input',
                    8000, 50);
                seen.push(r.json.step);
                if (r.json.step !== 'convert')
                    break;
                await U.sleep(300);
                await server.kill9();
                await server.start();
            }
            fin = await api.pollUntil(proc, (st) => st.step !== 'wait' && st.step !== 'input', 8000, 100);
            await U.sleep(1000);
            fin = await api.status(proc);
        });

        it('was re-run after the first two interruptions', function () {
            expect(seen, 'steps after each restart').to.deep.equal(['convert', 'convert', 'convert']);
        });

        it('after the third it is not run again: error 422 saying it was interrupted (at most 3 attempts)', function () {
            expect(fin.status, U.describeRes(fin)).to.equal(422);
            expect(fin.json.step).to.equal('error');
            expect(fin.json.message).to.match(/restart|interrupt/i);
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

    describe('kill -9 in the middle of an upload', function () {
        let proc;
        let st;
        let partial;
        let leftover;
        let stepAfter;

        // every regular file under the data folder except the database, log and port file
        function dataFiles() {
            const out = [];
            const walk = (d) => {
                for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                    const p = path.join(d, e.name);
                    if (e.isDirectory())
                        walk(p);
                    else if (!/^(convertd\.db.*|server\.log|port)$/.test(e.name))
                        out.push(path.relative(server.dataDir, p));
                }
            };
            walk(server.dataDir);
            return out;
        }

        before(async function () {
            this.timeout(30000);
            proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            st = U.expectStatus(await api.start(proc, { input: 'upload',
                converteroptions: { action: 'ok', percent_steps: 1 } }), 200).json;
            const known = new Set(dataFiles());
            const u = new URL(U.abs(st.upload.url) + '/part.fake');
            const sock = net.connect(server.port, '127.0.0.1');
            sock.on('error', () => {});
            await new Promise((resolve) => sock.on('connect', resolve));
            sock.write('PUT ' + u.pathname + ' HTTP/1.1\r\nHost: ' + server.host +
                '\r\nContent-Length: 1000000\r\n\r\n');
            sock.write(Buffer.alloc(300000, 0x61));
            await U.sleep(600);
            partial = dataFiles().filter((f) => !known.has(f));
            await server.kill9();
            sock.destroy();
            await server.start();
            await U.sleep(1000);
            leftover = dataFiles().filter((f) => !known.has(f));
            stepAfter = (await api.status(proc)).json.step;
        });

        it('the half-written upload file is deleted at restart', function () {
            expect(partial.length, 'the partial upload was on disk before the kill').to.be.above(0);
            expect(leftover).to.deep.equal([]);
        });

        it('the process still waits for its upload, and the same upload URL then works', async function () {
            expect(stepAfter).to.equal('input');
            const put = await api.upload(st, 'whole.fake', Buffer.from('whole upload'));
            expect(put.status, U.describeRes(put)).to.equal(200);
            const fin = await api.status(proc, true);
            expect(fin.json.step).to.equal('finished');
            const dl = await U.request({ url: U.abs(fin.json.output.url) });
            expect(dl.text).to.equal('whole upload');
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
