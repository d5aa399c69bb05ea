// SPDX-License-Identifier: MIT
// server.js - start the real convertd binary for a test: free port, private data folder,
// an API key created with `convertd keys add` before start.
'use strict';
const { spawn, execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const BIN = process.env.CONVERTD_BIN ||
    path.resolve(__dirname, '..', '..', 'build', 'server', 'convertd');

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// Run a convertd subcommand synchronously (keys, presets); returns stdout.
function cli(args, dataDir) {
    return execFileSync(BIN, [...args, '--data-dir', dataDir], { encoding: 'utf8' });
}

class Server {
    constructor(opts) {
        this.opts = opts || {};
        this.dataDir = this.opts.dataDir ||
            fs.mkdtempSync(path.join(os.tmpdir(), 'convertd-test-'));
        this.proc = null;
        this.port = 0;
    }

    async start() {
        if (!this.apikey) {
            this.apikey = 'test-' + crypto.randomBytes(16).toString('hex');
            cli(['keys', 'add', '--key', this.apikey, '--email', 'test@example.com'], this.dataDir);
        }
        const portFile = path.join(this.dataDir, 'port');
        try { fs.unlinkSync(portFile); } catch (e) { /* first start */ }
        const args = ['serve', '--listen', '127.0.0.1:' + (this.opts.port || 0),
            '--port-file', portFile, '--data-dir', this.dataDir,
            '--workers', String(this.opts.workers || 2), ...(this.opts.args || [])];
        const log = fs.openSync(path.join(this.dataDir, 'server.log'), 'a');
        this.proc = spawn(BIN, args, {
            stdio: ['ignore', log, log],
            env: Object.assign({}, process.env, this.opts.env || {}),
        });
        fs.closeSync(log);
        this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve({ code, sig })));
        const deadline = Date.now() + 10000;
        while (Date.now() < deadline) {
            if (this.proc.exitCode !== null)
                throw new Error('convertd exited at start: ' + this.log());
            try {
                const text = fs.readFileSync(portFile, 'utf8').trim();
                if (text) {
                    this.port = Number(text);
                    this.opts.port = this.port; // a restart keeps the port (URLs stay valid)
                    break;
                }
            } catch (e) { /* not yet */ }
            await sleep(20);
        }
        if (!this.port)
            throw new Error('convertd did not write its port file in 10 s: ' + this.log());
        this.host = '127.0.0.1:' + this.port;
        this.base = 'http://' + this.host;
        return this;
    }

    log() {
        try {
            return fs.readFileSync(path.join(this.dataDir, 'server.log'), 'utf8');
        } catch (e) {
            return '';
        }
    }

    // SIGTERM, wait up to 10 s, then SIGKILL.
    async stop() {
        if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode)
            return;
        this.proc.kill('SIGTERM');
        const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
        await this.exited;
        clearTimeout(t);
    }

    async kill9() {
        if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode)
            return;
        this.proc.kill('SIGKILL');
        await this.exited;
    }

    async restart(extraOpts) {
        await this.stop();
        Object.assign(this.opts, extraOpts || {});
        return this.start();
    }

    cli(args) {
        return cli(args, this.dataDir);
    }

    cleanup() {
        if (!process.env.CONVERTD_KEEP_DATA)
            fs.rmSync(this.dataDir, { recursive: true, force: true });
    }
}

async function startServer(opts) {
    return new Server(opts).start();
}

module.exports = { startServer, Server, BIN, sleep };
