// SPDX-License-Identifier: MIT
// compat-client.js - ends the official Node client's leftover requests and timers before a test server stops.
//
// cloudconvert@1.1.2 fires requests nobody waits for (the suite's `process.delete()` after
// `done()`) and polls every second from `wait()` until the process ends. When the server hangs
// or is stopped under them, the client emits 'error' on a Process without a listener (an
// uncaught exception that mocha pins on an unrelated hook) and its interval keeps mocha from
// exiting. A ClientGuard tracks both for one test file and ends them before the server stops.
'use strict';

class ClientGuard {
    constructor() {
        this.requests = new Set();
        this.intervals = new Set();
        this.realSetInterval = null;
    }

    // An Api instance of the official client aimed at a test server (see lib/server.js),
    // tracked by this guard. key: undefined → no key.
    api(server, key) {
        const CloudConvert = require('cloudconvert');
        const api = new CloudConvert(key);
        api.endpoint = server.host;
        api.protocol = 'http';
        return this.track(api);
    }

    // From now on remember every setInterval handle (only the client's wait() makes them).
    install() {
        if (this.realSetInterval)
            return;
        const real = global.setInterval;
        const intervals = this.intervals;
        this.realSetInterval = real;
        global.setInterval = function (...args) {
            const handle = real.apply(this, args);
            intervals.add(handle);
            return handle;
        };
    }

    // Count the requests of one Api instance of the client until they complete.
    track(api) {
        const rawCall = api.rawCall;
        const requests = this.requests;
        api.rawCall = function (options, callback) {
            const req = rawCall.call(this, options, (err, body) => {
                requests.delete(req);
                if (callback)
                    callback(err, body);
            });
            requests.add(req);
            return req;
        };
        return api;
    }

    // Give open requests up to `ms` to finish, abort the rest (request's abort() calls no
    // callback and emits no error), stop the client's polling. Returns how many were aborted.
    async release(ms) {
        const deadline = Date.now() + (ms === undefined ? 5000 : ms);
        while (this.requests.size > 0 && Date.now() < deadline)
            await new Promise((resolve) => setTimeout(resolve, 50));
        const aborted = this.requests.size;
        for (const req of this.requests)
            req.abort();
        this.requests.clear();
        for (const handle of this.intervals)
            clearInterval(handle);
        this.intervals.clear();
        if (this.realSetInterval) {
            global.setInterval = this.realSetInterval;
            this.realSetInterval = null;
        }
        return aborted;
    }
}

// Run a client call taking a node-style callback; reject on a client error.
function clientCall(fn) {
    return new Promise((resolve, reject) => fn((err, res) => {
        if (err)
            reject(new Error('client error ' + err.code + ': ' + err.message));
        else
            resolve(res);
    }));
}

module.exports = { ClientGuard, clientCall };
