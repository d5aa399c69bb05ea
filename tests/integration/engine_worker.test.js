// SPDX-License-Identifier: MIT
// engine_worker.test.js - worker isolation and supervision (SEC-20..22): crashes and aborts
// kill one job only, time limits, DELETE of a running job, progress, parallel workers.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const { startServer } = require('../lib/server');
const U = require('../lib/safety_util');
const H = require('../lib/http');

describe('conversion workers (SEC-20..22, contract: timeout, DELETE, percent)', function () {
    this.timeout(20000);
    let server;
    let api;

    before(async function () {
        this.timeout(30000);
        server = await startServer({ workers: 2, args: ['--test-converters'] });
        api = new U.Api(server);
    });

    after(async function () {
        if (server) {
            await server.stop();
            server.cleanup();
        }
    });

    function job(options, extra) {
        return Object.assign({ input: 'raw', file: 'fake input', filename: 'in.fake',
            converteroptions: options }, extra || {});
    }

    // create fake → txt, start, GET ?wait. Returns {proc, start, fin, ms}.
    async function convert(options, extra, waitMs) {
        const t0 = Date.now();
        const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
        const start = await api.start(proc, job(options, extra));
        expect(start.status, 'start: ' + U.describeRes(start)).to.equal(200);
        const fin = await api.status(proc, true, waitMs || 15000);
        return { proc, start, fin, ms: Date.now() - t0 };
    }

    function serverAlive() {
        return server.proc.exitCode === null && server.proc.signalCode === null;
    }

    for (const action of ['crash', 'abort']) {
        describe('action ' + action, function () {
            let r;
            let workersBefore;

            before(async function () {
                workersBefore = U.workerPids(server.proc.pid).sort();
                r = await convert({ action, percent_steps: 1 });
            });

            it('the process ends in error 422 with a message saying the conversion crashed', function () {
                expect(r.fin.status, U.describeRes(r.fin)).to.equal(422);
                expect(r.fin.json.step).to.equal('error');
                expect(r.fin.json.code).to.equal(422);
                expect(r.fin.json.message).to.match(/crashed/);
            });

            it('the server process is still alive and answers', async function () {
                expect(serverAlive(), 'convertd exited: ' + JSON.stringify(server.proc.exitCode) +
                    ' ' + server.proc.signalCode).to.equal(true);
                const res = await api.status(r.proc);
                expect(res.status).to.equal(422);
            });

            it('the dead worker was replaced: still 2 workers, one of them new', async function () {
                let now;
                const deadline = Date.now() + 5000;
                do {
                    now = U.workerPids(server.proc.pid).sort();
                    if (now.length === 2 && now.some((p) => !workersBefore.includes(p)))
                        break;
                    await U.sleep(100);
                } while (Date.now() < deadline);
                expect(workersBefore.length, 'workers before').to.equal(2);
                expect(now.length, 'workers after').to.equal(2);
                expect(now.filter((p) => !workersBefore.includes(p)).length).to.equal(1);
            });

            it('the next conversion succeeds', async function () {
                const ok = await convert({ action: 'ok', percent_steps: 1 });
                expect(ok.fin.status, U.describeRes(ok.fin)).to.equal(200);
                expect(ok.fin.json.step).to.equal('finished');
                const dl = await U.request({ url: U.abs(ok.fin.json.output.url) });
                expect(dl.status).to.equal(200);
                expect(dl.text).to.equal('fake input');
            });
        });
    }

    describe('action hang with timeout=2', function () {
        let r;
        let workersBefore;

        before(async function () {
            this.timeout(20000);
            workersBefore = U.workerPids(server.proc.pid).sort();
            r = await convert({ action: 'hang', percent_steps: 1 }, { timeout: 2 }, 18000);
        });

        it('the hung worker was killed and replaced (SEC-22)', async function () {
            let now;
            const deadline = Date.now() + 5000;
            do {
                now = U.workerPids(server.proc.pid).sort();
                if (now.length === 2 && now.filter((p) => !workersBefore.includes(p)).length === 1)
                    break;
                await U.sleep(100);
            } while (Date.now() < deadline);
            expect(workersBefore.length).to.equal(2);
            expect(now.length).to.equal(2);
            const gone = workersBefore.filter((p) => !now.includes(p));
            expect(gone.length, 'workers that went away').to.equal(1);
            expect(fs.existsSync('/proc/' + gone[0] + '/cmdline') &&
                fs.readFileSync('/proc/' + gone[0] + '/cmdline', 'latin1').includes('worker'),
            'the old worker process still exists').to.equal(false);
        });

        it('ends in error 422 within 2 + 10 s', function () {
            expect(r.fin.status, U.describeRes(r.fin)).to.equal(422);
            expect(r.fin.json.step).to.equal('error');
            expect(r.ms, 'ms from start to the error').to.be.below(12000);
        });

        it('not before the time limit', function () {
            expect(r.ms, 'ms from start to the error').to.be.at.least(1900);
        });

        it('the message says the time limit was reached', function () {
            expect(r.fin.json.message).to.match(/time limit/i);
        });

        it('the next conversion succeeds', async function () {
            const ok = await convert({ action: 'ok', percent_steps: 1 });
            expect(ok.fin.status, U.describeRes(ok.fin)).to.equal(200);
            expect(ok.fin.json.step).to.equal('finished');
        });
    });

    describe('DELETE of a running job', function () {
        let proc;
        let pendingWait;
        let del;
        let after;

        before(async function () {
            this.timeout(20000);
            proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            const start = await api.start(proc, job({ action: 'sleep', seconds: 30, percent_steps: 30 }));
            expect(start.status, U.describeRes(start)).to.equal(200);
            const running = await api.pollUntil(proc, (st) => st.step === 'convert', 5000, 50);
            expect(running.json.step).to.equal('convert');
            pendingWait = api.status(proc, true, 15000).then((res) => ({ res, at: Date.now() }),
                (err) => ({ err, at: Date.now() }));
            await U.sleep(500);
            del = await api.del(proc);
            after = await api.status(proc);
        });

        it('DELETE → 200 {"message": "Process was deleted"}', function () {
            expect(del.status, U.describeRes(del)).to.equal(200);
            expect(del.json).to.deep.equal({ message: 'Process was deleted' });
        });

        it('a later GET → 404 "Process not found"', function () {
            expect(after.status, U.describeRes(after)).to.equal(404);
            expect(after.json).to.deep.equal({ error: 'Process not found', code: 404 });
        });

        it('the ?wait started before the DELETE answers 404 (within 5 s)', async function () {
            const t0 = Date.now();
            const w = await pendingWait;
            expect(w.err, w.err && w.err.message).to.equal(undefined);
            expect(w.res.status, U.describeRes(w.res)).to.equal(404);
            expect(w.at - t0).to.be.below(5000);
        });

        it('the worker is free again: two sleep jobs of 1 s finish within 4 s', async function () {
            const t0 = Date.now();
            const rs = await Promise.all([
                convert({ action: 'sleep', seconds: 1, percent_steps: 1 }),
                convert({ action: 'sleep', seconds: 1, percent_steps: 1 }),
            ]);
            for (const r of rs)
                expect(r.fin.json.step).to.equal('finished');
            expect(Date.now() - t0).to.be.below(4000);
        });
    });

    describe('progress of a sleep job (seconds=3, percent_steps=5)', function () {
        const seen = [];
        let fin;

        before(async function () {
            this.timeout(20000);
            const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            const start = await api.start(proc, job({ action: 'sleep', seconds: 3, percent_steps: 5 }));
            expect(start.status, U.describeRes(start)).to.equal(200);
            seen.push({ step: start.json.step, percent: start.json.percent });
            const deadline = Date.now() + 15000;
            for (;;) {
                const res = await api.status(proc);
                seen.push({ step: res.json.step, percent: res.json.percent });
                if (res.json.step === 'finished' || res.json.step === 'error' || Date.now() > deadline) {
                    fin = res;
                    break;
                }
                await U.sleep(100);
            }
        });

        it('percent is always a JSON number', function () {
            for (const s of seen)
                expect(s.percent, JSON.stringify(seen)).to.be.a('number');
        });

        it('percent never decreases (-1 = unknown aside)', function () {
            const known = seen.map((s) => s.percent).filter((p) => p !== -1);
            for (let i = 1; i < known.length; i++)
                expect(known[i], JSON.stringify(known)).to.be.at.least(known[i - 1]);
        });

        it('intermediate values between 0 and 100 are reported', function () {
            const mid = seen.filter((s) => s.percent > 0 && s.percent < 100);
            expect(mid.length, JSON.stringify(seen)).to.be.at.least(2);
        });

        it('ends at step finished with percent exactly 100', function () {
            expect(fin.status, U.describeRes(fin)).to.equal(200);
            expect(fin.json.step).to.equal('finished');
            expect(fin.json.percent).to.equal(100);
        });
    });

    describe('two workers', function () {
        it('two concurrent sleep jobs of 2 s finish in under 3.5 s in all', async function () {
            const t0 = Date.now();
            const rs = await Promise.all([
                convert({ action: 'sleep', seconds: 2, percent_steps: 2 }),
                convert({ action: 'sleep', seconds: 2, percent_steps: 2 }),
            ]);
            const ms = Date.now() - t0;
            for (const r of rs) {
                expect(r.fin.status, U.describeRes(r.fin)).to.equal(200);
                expect(r.fin.json.step).to.equal('finished');
            }
            expect(ms).to.be.below(3500);
        });
    });
});

describe('a converter the workers cannot start is not offered', function () {
    this.timeout(30000);
    let server;
    let api;

    before(async function () {
        // The fake converter's init fails in the workers, as a converter's does whose helper
        // program is missing.
        server = await startServer({ workers: 1, args: ['--test-converters'],
            env: { CONVERTD_FAKE_INIT_FAIL: '1' } });
        api = H.api(server);
    });

    after(async function () {
        if (server)
            await H.stopServer(server);
    });

    it('/conversiontypes lists none of its pairs', async function () {
        const rows = H.expectJson(await H.request({ url: server.base + '/conversiontypes' }), 200);
        expect(rows.length).to.be.above(0);
        expect(rows.filter((r) => r.converter === 'fake')).to.deep.equal([]);
    });

    it('creating a process for its pair → 400 "not supported"', async function () {
        const res = await api.create({ inputformat: 'fake', outputformat: 'txt' });
        H.expectError(res, 400, /not supported/);
    });

    it('the log says why', function () {
        expect(server.log()).to.match(/converter fake is not offered/);
    });
});
