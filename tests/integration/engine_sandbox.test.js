// SPDX-License-Identifier: MIT
// engine_sandbox.test.js - what the kernel says about a conversion worker (SEC-20, SEC-21):
// separate process, no_new_privs, seccomp, own group and network namespace, rlimits, fds.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const { startServer } = require('../lib/server');
const U = require('../lib/safety_util');

const MEM = 512 * 1024 * 1024;
const OUT = 1000000;

function status(pid) {
    const out = {};
    for (const l of fs.readFileSync('/proc/' + pid + '/status', 'utf8').split('\n')) {
        const i = l.indexOf(':');
        if (i > 0)
            out[l.slice(0, i)] = l.slice(i + 1).trim();
    }
    return out;
}

// /proc/PID/limits → {'Max core file size': {soft, hard}} with Infinity for unlimited.
function limits(pid) {
    const out = {};
    for (const l of fs.readFileSync('/proc/' + pid + '/limits', 'utf8').split('\n').slice(1)) {
        const m = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(l);
        if (m) {
            const v = (s) => (s === 'unlimited' ? Infinity : Number(s));
            out[m[1]] = { soft: v(m[2]), hard: v(m[3]) };
        }
    }
    return out;
}

function statFields(pid) {
    const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1');
    return s.slice(s.lastIndexOf(')') + 2).split(' '); // [0] state, [1] ppid, [2] pgrp
}

function fds(pid) {
    const out = [];
    for (const fd of fs.readdirSync('/proc/' + pid + '/fd')) {
        try {
            out.push({ fd: Number(fd), target: fs.readlinkSync('/proc/' + pid + '/fd/' + fd) });
        } catch (e) { /* closed meanwhile */ }
    }
    return out;
}

describe('worker sandbox as seen in /proc (SEC-20, SEC-21)', function () {
    this.timeout(20000);
    let server;
    let api;
    let spid;
    let wpid;

    before(async function () {
        this.timeout(30000);
        server = await startServer({ workers: 1, args: ['--test-converters',
            '--worker-memory', String(MEM), '--max-output-bytes', String(OUT)] });
        api = new U.Api(server);
        spid = server.proc.pid;
        const deadline = Date.now() + 5000;
        let w;
        do {
            w = U.workerPids(spid);
            if (w.length === 1)
                break;
            await U.sleep(50);
        } while (Date.now() < deadline);
        expect(w.length, 'workers of the server').to.equal(1);
        wpid = w[0];
    });

    after(async function () {
        if (server) {
            await server.stop();
            server.cleanup();
        }
    });

    it('the worker is a `convertd worker` child process of the server', function () {
        const argv = fs.readFileSync('/proc/' + wpid + '/cmdline', 'latin1').split('\0');
        expect(argv[1]).to.equal('worker');
        expect(Number(statFields(wpid)[1])).to.equal(spid);
    });

    it('a worker never runs as root: a root server\'s workers drop to an unprivileged account', function () {
        const uid = (pid) => Number(status(pid).Uid.split(/\s+/)[0]);
        if (uid(spid) === 0)
            expect(uid(wpid), 'worker uid of a root server').to.be.above(0);
        else
            expect(uid(wpid), 'worker uid').to.equal(uid(spid));
        // Real, effective, saved and filesystem uid all dropped: root cannot be regained.
        expect(new Set(status(wpid).Uid.split(/\s+/)).size).to.equal(1);
    });

    it('the server\'s database is not readable by the worker account', function () {
        const st = fs.statSync(path.join(server.dataDir, 'convertd.db'));
        expect(st.mode & 0o077, 'convertd.db mode ' + (st.mode & 0o777).toString(8)).to.equal(0);
    });

    it('no_new_privs is set', function () {
        expect(status(wpid).NoNewPrivs).to.equal('1');
    });

    it('a seccomp filter is installed (Seccomp: 2)', function () {
        expect(status(wpid).Seccomp).to.equal('2');
    });

    it('it leads its own process group (not the server\'s)', function () {
        const pgrp = Number(statFields(wpid)[2]);
        expect(pgrp).to.equal(wpid);
        expect(pgrp).to.not.equal(Number(statFields(spid)[2]));
    });

    it('it lives in another network namespace than the server', function () {
        const ns = (pid) => fs.readlinkSync('/proc/' + pid + '/ns/net');
        expect(ns(wpid)).to.match(/^net:\[\d+\]$/);
        expect(ns(wpid)).to.not.equal(ns(spid));
    });

    it('RLIMIT_CORE is 0', function () {
        expect(limits(wpid)['Max core file size']).to.deep.equal({ soft: 0, hard: 0 });
    });

    it('RLIMIT_AS is --worker-memory (soft: Chromium lifts its own)', function () {
        expect(limits(wpid)['Max address space'].soft).to.equal(MEM);
    });

    it('RLIMIT_DATA is --worker-memory, soft and hard', function () {
        expect(limits(wpid)['Max data size']).to.deep.equal({ soft: MEM, hard: MEM });
    });

    it('RLIMIT_NOFILE is bounded and below the server\'s', function () {
        const w = limits(wpid)['Max open files'].soft;
        expect(w).to.be.below(Infinity);
        expect(w).to.be.below(limits(spid)['Max open files'].soft + 1);
        expect(w).to.be.at.most(65536);
    });

    it('the process count is bounded (RLIMIT_NPROC below the server\'s, or its own pids cgroup)', function () {
        const w = limits(wpid)['Max processes'].soft;
        const s = limits(spid)['Max processes'].soft;
        const pids = (pid) => (fs.readFileSync('/proc/' + pid + '/cgroup', 'utf8').split('\n')
            .find((l) => /(^|:)pids:/.test(l)) || '');
        const ownCgroup = pids(wpid) !== '' && pids(wpid) !== pids(spid);
        expect(w < s || ownCgroup, 'worker RLIMIT_NPROC ' + w + ', server ' + s + ', pids cgroup ' +
            JSON.stringify(pids(wpid))).to.equal(true);
    });

    it('it holds no database file and at most 3 sockets (the job channel, the proxy hand-over)', function () {
        const list = fds(wpid);
        const db = list.filter((f) => f.target.includes('convertd.db'));
        expect(db, JSON.stringify(list)).to.deep.equal([]);
        const sockets = list.filter((f) => /^socket:/.test(f.target));
        expect(sockets.length, JSON.stringify(list)).to.be.at.most(3);
        expect(list.length, JSON.stringify(list)).to.be.at.most(8);
    });

    describe('during a job (sleep 3 s, timeout 30)', function () {
        let proc;
        let cwd;
        let lim;

        before(async function () {
            proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            const res = await api.start(proc, { input: 'raw', file: 'x', filename: 'x.fake', timeout: 30,
                converteroptions: { action: 'sleep', seconds: 3, percent_steps: 3 } });
            expect(res.status, U.describeRes(res)).to.equal(200);
            const r = await api.pollUntil(proc, (st) => st.step === 'convert', 5000, 50);
            expect(r.json.step).to.equal('convert');
            await U.sleep(700);
            cwd = fs.readlinkSync('/proc/' + wpid + '/cwd');
            lim = limits(wpid);
        });

        after(async function () {
            if (proc)
                await api.status(proc, true);
        });

        it('the worker\'s working directory is the job\'s private folder', function () {
            const jobDir = path.join(fs.realpathSync(server.dataDir), 'jobs', proc.id);
            expect(cwd === jobDir || cwd.startsWith(jobDir + '/'), cwd).to.equal(true);
        });

        it('RLIMIT_CPU is set from the job budget (timeout × the job\'s cores, + a few s)', function () {
            // One worker: a job's share is every core, and each may burn 30 CPU s.
            const cores = require('os').cpus().length;
            expect(lim['Max cpu time'].soft).to.be.within(30 * cores, 30 * cores + 10);
        });

        it('RLIMIT_FSIZE is --max-output-bytes', function () {
            expect(lim['Max file size'].soft).to.equal(OUT);
        });
    });
});

// A root server whose data folder lies under a folder the worker account cannot enter
// (a clone in /root): dropping to that account would fail every job, so the workers keep
// root (with every other fence) and the log says why.
describe('a root server with its data folder under a closed folder', function () {
    this.timeout(30000);
    let server;
    let closed;

    before(async function () {
        if (process.getuid() !== 0) {
            console.log('      (skipped: only a root server drops its workers to another account)');
            this.skip();
        }
        closed = fs.mkdtempSync(path.join(require('os').tmpdir(), 'convertd-closed-'));
        fs.chmodSync(closed, 0o700);
        const dataDir = path.join(closed, 'var');
        fs.mkdirSync(dataDir);
        server = await startServer({ workers: 1, dataDir, args: ['--test-converters'] });
    });

    after(async function () {
        if (server) {
            await server.stop();
            server.cleanup();
        }
        if (closed)
            fs.rmSync(closed, { recursive: true, force: true });
    });

    it('says at start that the workers keep the root account, naming the folder', function () {
        expect(server.log()).to.contain('workers keep this root account');
        expect(server.log()).to.contain(closed + ' (mode 700)');
    });

    it('still converts', async function () {
        const api = new U.Api(server);
        const { proc } = await api.run({ inputformat: 'fake', outputformat: 'txt' },
            { input: 'raw', file: 'hello', filename: 'a.fake', wait: true });
        const res = await api.status(proc, true);
        expect(res.json.step, res.json.message).to.equal('finished');
    });
});
