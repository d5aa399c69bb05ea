/* SPDX-License-Identifier: MIT */
/* chromium.c - web pages (a URL, or an uploaded .html file) to png, jpg or pdf through
 * Debian's headless Chromium, run by the worker for each job (never linked).
 *
 * The browser is driven over --remote-debugging-pipe (cdp.h). It gets a private folder under
 * the job's TMPDIR for its profile, HOME and TMPDIR, its own process group, and
 * PR_SET_PDEATHSIG: when the job ends in any way the whole group is killed, and a worker that
 * dies takes the browser (and with it its zygote and renderers) along.
 *
 * Network (security.md SEC-01/21): every request goes to --proxy-server, a listener on
 * 127.0.0.1 in the worker whose thread hands each connection to the server's address-guarded
 * proxy (webproxy.h); loopback is not bypassed. An uploaded page is never opened as file://
 * (it could pull other local files in): it is served from the synthetic origin ORIGIN through
 * the Fetch domain, which answers its bytes and 404 for everything else under that origin.
 */
#include "converters/converter.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <jansson.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/fsx.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timefmt.h"
#include "converters/cdp.h"
#include "converters/helper.h"
#include "storage/fetch.h"
#include "storage/webproxy.h"

/* ---- facts ------------------------------------------------------------------------- */

/* The binary itself, never the /usr/bin/chromium shell wrapper (it reads config files and
 * the environment); SEC-21's execve allow-list is to name it. */
#define CHROMIUM_PATH "/usr/lib/chromium/chromium"
#define CRASHPAD_PATH "/usr/lib/chromium/chrome_crashpad_handler"
#define ORIGIN        "http://convertd.invalid"
#define INPUT_URL     ORIGIN "/input.html"
#define MAX_MESSAGE   ((size_t)256 << 20) /* a DevTools message: a screenshot in base64 */
#define MAX_HTML      ((size_t)64 << 20)
#define MAX_URL_FILE  65536
#define START_MS      30000 /* browser start up to the first page target */
#define CALL_MS       30000
#define CAPTURE_MS    120000

/* How long a page may take to fire its load event before it is captured as it stands. A
 * variable so that the unit test can shorten it. */
UNITTEST int chromium_load_cap_ms = 30000;

static const char *const size_choices[] = {"a3", "a4", "a5", "letter", "legal", "tabloid", NULL};
static const char *const orientation_choices[] = {"portrait", "landscape", NULL};

/* Paper in inches, as Page.printToPDF takes it (portrait; landscape swaps). */
static const struct paper {
    const char *name;
    double width, height;
} papers[] = {
    {"a3", 11.69, 16.54}, {"a4", 8.27, 11.69}, {"a5", 5.83, 8.27},
    {"letter", 8.5, 11},  {"legal", 8.5, 14},  {"tabloid", 11, 17},
};

/* spec "Converter options", web pages: screen_width/screen_height (1280, 800), full_page,
 * wait_time, print_background, paper_size, margin. paper_size and margin are the spec's names;
 * page_size, page_orientation and the four margin_* are the finer ones. A given paper_size
 * wins over page_size, a given margin sets all four margins. */
static const struct conv_option options[] = {
    {.name = "screen_width", .type = CONV_OPT_INT, .def = "1280", .min = 1, .max = 10000},
    {.name = "screen_height", .type = CONV_OPT_INT, .def = "800", .min = 1, .max = 10000},
    {.name = "full_page", .type = CONV_OPT_BOOL, .def = "false"},
    {.name = "wait_time", .type = CONV_OPT_INT, .def = "0", .min = 0, .max = 30000},
    {.name = "print_background", .type = CONV_OPT_BOOL, .def = "true"},
    {.name = "page_size", .type = CONV_OPT_ENUM, .def = "\"a4\"", .choices = size_choices},
    {.name = "paper_size", .type = CONV_OPT_ENUM, .def = NULL, .choices = size_choices},
    {.name = "page_orientation",
     .type = CONV_OPT_ENUM,
     .def = "\"portrait\"",
     .choices = orientation_choices},
    {.name = "margin_top", .type = CONV_OPT_NUMBER, .def = "10", .min = 0, .max = 100},
    {.name = "margin_bottom", .type = CONV_OPT_NUMBER, .def = "10", .min = 0, .max = 100},
    {.name = "margin_left", .type = CONV_OPT_NUMBER, .def = "10", .min = 0, .max = 100},
    {.name = "margin_right", .type = CONV_OPT_NUMBER, .def = "10", .min = 0, .max = 100},
    {.name = "margin", .type = CONV_OPT_NUMBER, .def = NULL, .min = 0, .max = 100},
    {.name = "quality", .type = CONV_OPT_INT, .def = "85", .min = 1, .max = 100},
    {0},
};

static const struct conv_pair pairs[] = {
    {"website", "png", "document"},
    {"website", "jpg", "document"},
    {"website", "pdf", "document"},
    {"html", "png", "document"},
    {"html", "jpg", "document"},
    {"html", "pdf", "document"},
    {0},
};

static bool have_chromium;

struct settings {
    int width, height, wait_ms, quality;
    bool full_page, background, landscape;
    const struct paper *paper;
    double margin_mm[4]; /* top, bottom, left, right */
};

static int opt_int(const json_t *o, const char *name, int def)
{
    int64_t v;
    if (jsonx_int(jsonx_get(o, name), def, &v) < 0 || v < INT32_MIN || v > INT32_MAX)
        return def;
    return (int)v;
}

static double opt_number(const json_t *o, const char *name, double def)
{
    double v;
    return jsonx_number(jsonx_get(o, name), def, &v) == 0 && isfinite(v) ? v : def;
}

static bool opt_bool(const json_t *o, const char *name, bool def)
{
    bool b;
    return jsonx_bool(jsonx_get(o, name), def, false, &b) == 0 ? b : def;
}

static const struct paper *find_paper(const char *name)
{
    for (size_t i = 0; name && i < sizeof papers / sizeof papers[0]; i++)
        if (strcasecmp(papers[i].name, name) == 0)
            return &papers[i];
    return NULL;
}

static void read_settings(const json_t *o, struct settings *s)
{
    static const char *const margins[4] = {"margin_top", "margin_bottom", "margin_left",
                                           "margin_right"};
    memset(s, 0, sizeof *s);
    s->width = opt_int(o, "screen_width", 1280);
    s->height = opt_int(o, "screen_height", 800);
    if (s->width < 1 || s->width > 10000)
        s->width = 1280;
    if (s->height < 1 || s->height > 10000)
        s->height = 800;
    s->wait_ms = opt_int(o, "wait_time", 0);
    if (s->wait_ms < 0 || s->wait_ms > 30000)
        s->wait_ms = 0;
    s->quality = opt_int(o, "quality", 85);
    if (s->quality < 1 || s->quality > 100)
        s->quality = 85;
    s->full_page = opt_bool(o, "full_page", false);
    s->background = opt_bool(o, "print_background", true);
    const char *orientation = jsonx_str(jsonx_get(o, "page_orientation"));
    s->landscape = orientation && strcasecmp(orientation, "landscape") == 0;
    s->paper = find_paper(jsonx_str(jsonx_get(o, "paper_size")));
    if (!s->paper)
        s->paper = find_paper(jsonx_str(jsonx_get(o, "page_size")));
    if (!s->paper)
        s->paper = find_paper("a4");
    double all = opt_number(o, "margin", -1);
    for (int i = 0; i < 4; i++) {
        double m = all >= 0 ? all : opt_number(o, margins[i], 10);
        s->margin_mm[i] = m >= 0 && m <= 100 ? m : 10;
    }
}

/* ---- the proxy forwarder ----------------------------------------------------------- */

/* A listener on 127.0.0.1:0 for --proxy-server; its thread passes every connection Chromium
 * opens to the server's proxy, or closes it when there is no channel (an uploaded page then
 * renders without its remote subresources). */
struct forwarder {
    int listen_fd;
    int stop[2]; /* a byte on stop[1] ends the thread */
    int channel; /* conv_job.proxy_fd, or -1 */
    int port;
    pthread_t thread;
    bool running;
};

static void *forward_loop(void *arg)
{
    struct forwarder *f = arg;

    for (;;) {
        struct pollfd pf[2] = {{.fd = f->listen_fd, .events = POLLIN},
                               {.fd = f->stop[0], .events = POLLIN}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_warn("chromium: proxy forwarder: poll: %s", strerror(errno));
            break;
        }
        if (pf[1].revents)
            break;
        if (!pf[0].revents)
            continue;
        int conn = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)
                continue;
            log_warn("chromium: proxy forwarder: accept: %s", strerror(errno));
            break;
        }
        if (f->channel >= 0 && webproxy_handoff(f->channel, conn) < 0)
            log_debug("chromium: cannot hand a connection to the proxy: %s", strerror(errno));
        close(conn);
    }
    return NULL;
}

static void forwarder_init(struct forwarder *f)
{
    memset(f, 0, sizeof *f);
    f->listen_fd = -1;
    f->stop[0] = f->stop[1] = -1;
    f->channel = -1;
}

static int forwarder_start(struct forwarder *f, int channel, struct err *err)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof sin;

    f->channel = channel;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        listen(f->listen_fd, 64) < 0 ||
        getsockname(f->listen_fd, (struct sockaddr *)&sin, &len) < 0)
        return err_set(err, ERR_INTERNAL, "chromium: proxy listener on 127.0.0.1: %s",
                       strerror(errno));
    f->port = ntohs(sin.sin_port);
    if (pipe2(f->stop, O_CLOEXEC) < 0)
        return err_set(err, ERR_INTERNAL, "chromium: pipe: %s", strerror(errno));
    int e = pthread_create(&f->thread, NULL, forward_loop, f);
    if (e != 0)
        return err_set(err, ERR_INTERNAL, "chromium: cannot start the proxy forwarder: %s",
                       strerror(e));
    f->running = true;
    return 0;
}

static void forwarder_stop(struct forwarder *f)
{
    if (f->running) {
        char b = 0;
        while (write(f->stop[1], &b, 1) < 0 && errno == EINTR)
            ;
        pthread_join(f->thread, NULL);
        f->running = false;
    }
    if (f->listen_fd >= 0)
        close(f->listen_fd);
    for (int i = 0; i < 2; i++)
        if (f->stop[i] >= 0)
            close(f->stop[i]);
    forwarder_init(f);
}

/* ---- the browser process ----------------------------------------------------------- */

struct browser {
    char *dir; /* private folder: profile, HOME, TMPDIR, log */
    pid_t pid; /* also its process group; -1 when none */
    int fd;    /* our end of the DevTools channel until cdp_new() takes it */
};

static void build_argv(const struct browser *b, const struct settings *s, int port, struct argv *a)
{
    argv_add(a, "%s", CHROMIUM_PATH);
    argv_add(a, "--headless");
    /* The worker is the sandbox; Chromium's own needs user namespaces and a setuid helper. */
    argv_add(a, "--no-sandbox");
    argv_add(a, "--disable-gpu");
    argv_add(a, "--remote-debugging-pipe");
    argv_add(a, "--user-data-dir=%s/profile", b->dir);
    argv_add(a, "--no-first-run");
    argv_add(a, "--no-default-browser-check");
    argv_add(a, "--disable-extensions");
    argv_add(a, "--disable-background-networking");
    argv_add(a, "--disable-component-update");
    argv_add(a, "--disable-sync");
    argv_add(a, "--disable-default-apps");
    argv_add(a, "--disable-domain-reliability");
    argv_add(a, "--disable-client-side-phishing-detection");
    argv_add(a, "--disable-component-extensions-with-background-pages");
    argv_add(a, "--disable-field-trial-config");
    argv_add(a, "--no-pings");
    argv_add(a, "--disable-crash-reporter");
    argv_add(a, "--disable-breakpad");
    argv_add(a, "--no-crashpad");
    argv_add(a, "--mute-audio");
    argv_add(a, "--hide-scrollbars");
    argv_add(a, "--no-service-autorun");
    argv_add(a, "--password-store=basic");
    argv_add(a, "--use-mock-keychain");
    argv_add(a, "--metrics-recording-only");
    /* Colours as the page wrote them (no display profile), so screenshots are predictable. */
    argv_add(a, "--force-color-profile=srgb");
    /* HttpsUpgrades would first try https:// for an http:// page: a needless CONNECT through
     * the proxy, and the uploaded page's http:// origin would miss the Fetch pattern. */
    argv_add(a, "--disable-features=HttpsUpgrades,NetworkTimeServiceQuerying,Translate,"
                "MediaRouter,OptimizationHints,DialMediaRouteProvider,AutofillServerCommunication,"
                "InterestFeedContentSuggestions");
    /* What the flags above leave of Chromium's own calls home (the component updater, the
     * account check) is sent to a reserved name that cannot resolve: the proxy answers 502
     * and nothing about the job leaves the machine. */
    argv_add(a, "--component-updater=url-source=" ORIGIN "/");
    argv_add(a, "--gaia-url=" ORIGIN);
    argv_add(a, "--window-size=%d,%d", s->width, s->height);
    if (access("/dev/shm", W_OK | X_OK) < 0)
        argv_add(a, "--disable-dev-shm-usage");
    argv_add(a, "--proxy-server=http://127.0.0.1:%d", port);
    /* Chromium bypasses the proxy for loopback unless told not to: 127.0.0.1 pages too must
     * meet the address guard. */
    argv_add(a, "--proxy-bypass-list=<-loopback>");
    argv_add(a, "about:blank");
}

/* Start the browser. Everything the child needs is prepared here: after fork() it makes only
 * async-signal-safe calls (the worker may have library threads holding locks). */
static int browser_start(struct browser *b, const struct settings *s, int port, struct err *err)
{
    struct argv a = {0};
    char *env[8] = {0};
    char *log_path = xasprintf("%s/chromium.log", b->dir);
    int sv[2] = {-1, -1}, logfd = -1, devnull = -1, rc = -1;
    pid_t parent = getpid();
    sigset_t none;

    sigemptyset(&none);
    build_argv(b, s, port, &a);
    env[0] = xasprintf("HOME=%s", b->dir);
    /* Relative to its working folder (b->dir): Chromium puts a unix socket in TMPDIR, and a
     * job folder's absolute path would pass the 108 bytes such a path may have. */
    env[1] = xstrdup("TMPDIR=tmp");
    env[2] = xstrdup("PATH=/usr/bin:/bin");
    env[3] = xstrdup("LANG=C.UTF-8");
    env[4] = xasprintf("XDG_CONFIG_HOME=%s/.config", b->dir);
    env[5] = xasprintf("XDG_CACHE_HOME=%s/.cache", b->dir);
    char *tmp = xasprintf("%s/tmp", b->dir);
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST) {
        err_set(err, ERR_INTERNAL, "chromium: cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        goto out;
    }
    free(tmp);
    /* One stream socket for both directions: a browser gone away is then EPIPE on send(),
     * never a SIGPIPE that would kill the worker. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        err_set(err, ERR_INTERNAL, "chromium: socketpair: %s", strerror(errno));
        goto out;
    }
    logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd < 0 || devnull < 0) {
        err_set(err, ERR_INTERNAL, "chromium: cannot open its log: %s", strerror(errno));
        goto out;
    }

    pid_t pid = fork();
    if (pid < 0) {
        err_set(err, ERR_CONVERT, "cannot start Chromium: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        struct rlimit rl;
        struct sigaction dfl = {.sa_handler = SIG_DFL};

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        /* Its own group, so that one kill ends the browser and every helper it forked. */
        setpgid(0, 0);
        /* V8 reserves tens of GB of address space: Chromium does not start under an address
         * space limit. Memory stays bounded by RLIMIT_DATA, which it inherits. */
        if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_AS, &rl);
        }
        /* Above the fds about to be filled, then into place: 3 commands, 4 replies. */
        int ch = fcntl(sv[1], F_DUPFD, 10);
        int lg = fcntl(logfd, F_DUPFD, 10);
        int dn = fcntl(devnull, F_DUPFD, 10);
        if (ch < 0 || lg < 0 || dn < 0 || dup2(dn, 0) < 0 || dup2(lg, 1) < 0 || dup2(lg, 2) < 0 ||
            dup2(ch, 3) < 0 || dup2(ch, 4) < 0)
            _exit(127);
        /* The worker's protocol socket, its proxy channel and anything a library left open
         * stay ours. */
        if (close_range(5, ~0U, 0) < 0)
            for (int fd = 5; fd < 4096; fd++)
                close(fd);
        if (chdir(b->dir) < 0)
            _exit(127);
        sigaction(SIGPIPE, &dfl, NULL);
        sigaction(SIGXFSZ, &dfl, NULL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(CHROMIUM_PATH, a.v, env);
        _exit(127);
    }
    /* Also here: the kill must find the group even if it comes before the child ran. */
    setpgid(pid, pid);
    b->pid = pid;
    b->fd = sv[0];
    sv[0] = -1;
    rc = 0;
out:
    for (int i = 0; i < 2; i++)
        if (sv[i] >= 0)
            close(sv[i]);
    if (logfd >= 0)
        close(logfd);
    if (devnull >= 0)
        close(devnull);
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
        free(env[i]);
    argv_fini(&a);
    free(log_path);
    return rc;
}

/* Chromium starts its crash handlers whatever the flags say, and they leave its process
 * group (double fork + setsid). They end by themselves once the browser is gone; this makes
 * it certain and immediate: every handler whose crash database lies in our folder is killed. */
static void kill_crash_handlers(const char *dir)
{
    char *want = xasprintf("--database=%s/", dir);
    DIR *d = opendir("/proc");
    struct dirent *e;

    while (d && (e = readdir(d))) {
        char path[64], exe[128], cmd[4096];
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (pid <= 1 || *end != '\0')
            continue;
        snprintf(path, sizeof path, "/proc/%ld/exe", pid);
        ssize_t n = readlink(path, exe, sizeof exe - 1);
        if (n <= 0)
            continue;
        exe[n] = '\0';
        if (strcmp(exe, CRASHPAD_PATH) != 0)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, cmd, sizeof cmd);
        close(fd);
        if (n > 0 && memmem(cmd, (size_t)n, want, strlen(want)))
            kill((pid_t)pid, SIGKILL);
    }
    if (d)
        closedir(d);
    free(want);
}

/* Kill the browser's whole group and reap the browser; its helpers, reparented, are reaped
 * by init. Returns the browser's wait status (or -1). */
static int browser_stop(struct browser *b)
{
    int status = -1;

    if (b->pid > 0) {
        kill(-b->pid, SIGKILL);
        kill(b->pid, SIGKILL);
        while (waitpid(b->pid, &status, 0) < 0 && errno == EINTR)
            ;
        b->pid = -1;
        kill_crash_handlers(b->dir);
    }
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
    return status;
}

/* The last line Chromium printed, for an error message. */
static void browser_last_line(const struct browser *b, char *dst, size_t size)
{
    char *path = xasprintf("%s/chromium.log", b->dir);
    char tail[1024];
    ssize_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    dst[0] = '\0';
    free(path);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    if (end > (off_t)sizeof tail - 1)
        lseek(fd, end - (off_t)sizeof tail + 1, SEEK_SET);
    else
        lseek(fd, 0, SEEK_SET);
    n = read(fd, tail, sizeof tail - 1);
    close(fd);
    if (n <= 0)
        return;
    tail[n] = '\0';
    while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r' || tail[n - 1] == ' '))
        tail[--n] = '\0';
    char *line = strrchr(tail, '\n');
    line = line ? line + 1 : tail;
    size_t len = strlen(line) < size - 1 ? strlen(line) : size - 1;
    for (size_t i = 0; i < len; i++)
        dst[i] = (unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x80 ? '?' : line[i];
    dst[len] = '\0';
}

/* ---- the page ---------------------------------------------------------------------- */

struct page {
    const struct conv_job *job;
    struct cdp *cdp;
    char *target;  /* targetId, also the main frame's id */
    char *session; /* flattened session of the target */
    double percent;
    const char *message;
    bool loaded, crashed;
    /* the main document's response */
    int doc_status;
    char *doc_request;
    char *doc_mime;
    /* an uploaded page, served under ORIGIN */
    char *html_b64;
    char content_type[64];
};

static bool page_tick(void *opaque)
{
    struct page *p = opaque;
    const struct conv_job *job = p->job;
    return job->progress && job->progress(job->progress_opaque, p->percent, p->message);
}

static bool report(struct page *p, double percent, const char *message)
{
    p->percent = percent;
    p->message = message;
    return page_tick(p);
}

static void set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = s ? xstrdup(s) : NULL;
}

/* Fetch.requestPaused under ORIGIN: the uploaded page at INPUT_URL, 404 for anything else. */
static void serve_paused(struct page *p, json_t *params)
{
    const char *id = json_string_value(json_object_get(params, "requestId"));
    const char *url = json_string_value(json_object_get(json_object_get(params, "request"), "url"));
    struct err err = ERR_INIT;
    json_t *args = json_object();
    json_t *headers = json_array();
    json_t *h = json_object();

    if (!id) {
        json_decref(args);
        json_decref(headers);
        json_decref(h);
        return;
    }
    bool input = p->html_b64 && url && strcmp(url, INPUT_URL) == 0;
    json_object_set_new(args, "requestId", json_string(id));
    json_object_set_new(args, "responseCode", json_integer(input ? 200 : 404));
    json_object_set_new(h, "name", json_string("Content-Type"));
    json_object_set_new(h, "value", json_string(input ? p->content_type : "text/plain"));
    json_array_append_new(headers, h);
    json_object_set_new(args, "responseHeaders", headers);
    /* base64 of "not found\n" */
    json_object_set_new(args, "body", json_string(input ? p->html_b64 : "bm90IGZvdW5kCg=="));
    if (cdp_send(p->cdp, p->session, "Fetch.fulfillRequest", args, &err) < 0)
        log_debug("chromium: %s", err.msg);
}

/* The value of a response header (names compare ignoring case), or NULL. */
static const char *header_value(json_t *headers, const char *name)
{
    size_t i;
    json_t *h;

    json_array_foreach (headers, i, h) {
        const char *n = json_string_value(json_object_get(h, "name"));
        if (n && strcasecmp(n, name) == 0)
            return json_string_value(json_object_get(h, "value"));
    }
    return NULL;
}

/* Fetch.requestPaused at the response of the page's own document (website jobs). A browser
 * would download a document sent as application/octet-stream (or as an attachment) and the
 * navigation would end as net::ERR_ABORTED; a conversion of a web page renders it as HTML. */
static void serve_document(struct page *p, json_t *params)
{
    const char *id = json_string_value(json_object_get(params, "requestId"));
    const char *frame = json_string_value(json_object_get(params, "frameId"));
    const char *type = json_string_value(json_object_get(params, "resourceType"));
    json_t *headers = json_object_get(params, "responseHeaders");
    json_int_t status = json_integer_value(json_object_get(params, "responseStatusCode"));
    struct err err = ERR_INIT;

    if (!id)
        return;
    const char *ctype = header_value(headers, "Content-Type");
    const char *disp = header_value(headers, "Content-Disposition");
    bool main_doc = type && strcmp(type, "Document") == 0 && frame && p->target &&
                    strcmp(frame, p->target) == 0 && status >= 200 && status < 300;
    bool download = !ctype || strncasecmp(ctype, "application/octet-stream", 24) == 0 ||
                    strncasecmp(ctype, "binary/octet-stream", 19) == 0 ||
                    (disp && strncasecmp(disp, "attachment", 10) == 0);
    if (!main_doc || !download) {
        if (cdp_send(p->cdp, p->session, "Fetch.continueRequest",
                     json_pack("{s:s}", "requestId", id), &err) < 0)
            log_debug("chromium: %s", err.msg);
        return;
    }
    /* The body as it came, answered again with a type that renders. Fetch.continueResponse
     * with new headers is not enough: the navigation keeps the first type it saw. */
    json_t *res = NULL;
    if (cdp_call(p->cdp, p->session, "Fetch.getResponseBody", json_pack("{s:s}", "requestId", id),
                 CALL_MS, &res, &err) < 0) {
        log_debug("chromium: %s", err.msg);
        err_clear(&err);
        cdp_send(p->cdp, p->session, "Fetch.continueRequest", json_pack("{s:s}", "requestId", id),
                 &err);
        return;
    }
    const char *body = json_string_value(json_object_get(res, "body"));
    char *b64 = NULL;
    if (!json_is_true(json_object_get(res, "base64Encoded")))
        b64 = base64_encode(body ? body : "", body ? strlen(body) : 0, NULL);
    json_t *fixed = json_array();
    size_t i;
    json_t *h;
    json_array_foreach (headers, i, h) {
        const char *n = json_string_value(json_object_get(h, "name"));
        /* The body is whole and decoded now: its old length and encoding no longer apply. */
        if (n && strcasecmp(n, "Content-Type") != 0 && strcasecmp(n, "Content-Disposition") != 0 &&
            strcasecmp(n, "Content-Length") != 0 && strcasecmp(n, "Content-Encoding") != 0 &&
            strcasecmp(n, "Transfer-Encoding") != 0)
            json_array_append(fixed, h);
    }
    json_array_append_new(fixed,
                          json_pack("{s:s,s:s}", "name", "Content-Type", "value", "text/html"));
    log_debug("chromium: the page came as %s: rendered as text/html", ctype ? ctype : "no type");
    if (cdp_send(p->cdp, p->session, "Fetch.fulfillRequest",
                 json_pack("{s:s,s:I,s:o,s:s}", "requestId", id, "responseCode", status,
                           "responseHeaders", fixed, "body",
                           b64    ? b64
                           : body ? body
                                  : ""),
                 &err) < 0)
        log_debug("chromium: %s", err.msg);
    free(b64);
    json_decref(res);
}

static void on_event(void *opaque, const char *session, const char *method, json_t *params)
{
    struct page *p = opaque;

    if (strcmp(method, "Target.targetCrashed") == 0) {
        p->crashed = true;
        return;
    }
    if (strcmp(method, "Target.detachedFromTarget") == 0) {
        const char *gone = json_string_value(json_object_get(params, "sessionId"));
        if (gone && p->session && strcmp(gone, p->session) == 0)
            p->crashed = true;
        return;
    }
    if (!session || !p->session || strcmp(session, p->session) != 0)
        return;
    if (strcmp(method, "Page.loadEventFired") == 0) {
        p->loaded = true;
    } else if (strcmp(method, "Inspector.targetCrashed") == 0) {
        p->crashed = true;
    } else if (strcmp(method, "Fetch.requestPaused") == 0) {
        /* Paused at its response: a website's document; at its request: under ORIGIN. */
        if (json_object_get(params, "responseStatusCode") ||
            json_object_get(params, "responseErrorReason"))
            serve_document(p, params);
        else
            serve_paused(p, params);
    } else if (strcmp(method, "Network.responseReceived") == 0) {
        const char *type = json_string_value(json_object_get(params, "type"));
        const char *frame = json_string_value(json_object_get(params, "frameId"));
        json_t *resp = json_object_get(params, "response");
        if (type && strcmp(type, "Document") == 0 && frame && p->target &&
            strcmp(frame, p->target) == 0) {
            p->doc_status = (int)json_integer_value(json_object_get(resp, "status"));
            set_str(&p->doc_request, json_string_value(json_object_get(params, "requestId")));
            set_str(&p->doc_mime, json_string_value(json_object_get(resp, "mimeType")));
        }
    }
}

/* Wait until the page's load event, the cap, or trouble. */
static int wait_loaded(struct page *p, int64_t deadline, struct err *err)
{
    while (!p->loaded && !p->crashed) {
        int64_t left = deadline - time_mono_ms();
        if (left <= 0)
            break;
        if (cdp_pump(p->cdp, (int)left, err) < 0)
            return -1;
    }
    if (p->crashed)
        return err_set(err, ERR_CONVERT, "the page crashed Chromium's renderer");
    return 0;
}

/* Let the page run for ms (wait_time), serving its requests meanwhile. */
static int wait_for(struct page *p, int ms, struct err *err)
{
    int64_t deadline = time_mono_ms() + ms;
    for (;;) {
        int64_t left = deadline - time_mono_ms();
        if (left <= 0)
            break;
        if (cdp_pump(p->cdp, (int)left, err) < 0)
            return -1;
        if (p->crashed)
            return err_set(err, ERR_CONVERT, "the page crashed Chromium's renderer");
    }
    return 0;
}

/* A net::ERR_... of Page.navigate. The proxy's refusal of a CONNECT (https) shows only as a
 * failed tunnel. */
static int navigate_error(const char *text, struct err *err)
{
    if (strcmp(text, "net::ERR_TUNNEL_CONNECTION_FAILED") == 0)
        return err_set(err, ERR_CONVERT, "the page's address is not allowed (%s)", text);
    return err_set(err, ERR_CONVERT, "the page could not be loaded: %.100s", text);
}

/* For http:// pages the proxy's refusal arrives as the document itself: a text/plain error
 * whose body starts "convertd proxy:" (webproxy.h). A site's own error pages are rendered. */
static int check_document(struct page *p, struct err *err)
{
    json_t *res = NULL;
    struct err why = ERR_INIT;

    if (p->doc_status != 403 && p->doc_status != 400 && p->doc_status != 502 &&
        p->doc_status != 503)
        return 0;
    if (!p->doc_mime || strcmp(p->doc_mime, "text/plain") != 0 || !p->doc_request)
        return 0;
    json_t *args = json_pack("{s:s}", "requestId", p->doc_request);
    if (cdp_call(p->cdp, p->session, "Network.getResponseBody", args, CALL_MS, &res, &why) < 0) {
        if (why.code == ERR_CANCELLED)
            return err_set(err, ERR_CANCELLED, "cancelled");
        log_debug("chromium: %s", why.msg); /* not ours to judge then: render it */
        return 0;
    }
    const char *body = json_string_value(json_object_get(res, "body"));
    int rc = 0;
    if (body && !json_is_true(json_object_get(res, "base64Encoded")) &&
        strncmp(body, "convertd proxy:", 15) == 0) {
        char line[120];
        size_t n = strcspn(body, "\r\n");
        snprintf(line, sizeof line, "%.*s", (int)(n < 100 ? n : 100), body);
        if (p->doc_status == 403)
            rc = err_set(err, ERR_CONVERT, "the page's address is not allowed");
        else
            rc = err_set(err, ERR_CONVERT, "the page could not be loaded: %s", line);
    }
    json_decref(res);
    return rc;
}

/* ---- output ------------------------------------------------------------------------ */

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static unsigned long be32(const unsigned char *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

/* Width and height from a PNG's IHDR or a JPEG's SOF marker. */
UNITTEST bool chromium_image_size(const unsigned char *d, size_t n, long *w, long *h);
UNITTEST bool chromium_image_size(const unsigned char *d, size_t n, long *w, long *h)
{
    if (n >= 24 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(d + 12, "IHDR", 4) == 0) {
        *w = (long)be32(d + 16);
        *h = (long)be32(d + 20);
        return true;
    }
    if (n < 4 || d[0] != 0xFF || d[1] != 0xD8)
        return false;
    size_t i = 2;
    while (i + 4 <= n) {
        if (d[i] != 0xFF)
            return false;
        unsigned m = d[i + 1];
        if (m == 0xFF) {
            i++;
            continue;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {
            i += 2;
            continue;
        }
        unsigned len = be16(d + i + 2);
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (i + 9 > n || len < 7)
                return false;
            *h = (long)be16(d + i + 5);
            *w = (long)be16(d + i + 7);
            return true;
        }
        if (m == 0xD9 || m == 0xDA || len < 2)
            return false;
        i += 2 + len;
    }
    return false;
}

static int check_size(long w, long h, const struct conv_limits *l, struct err *err)
{
    if (w > l->max_side || h > l->max_side)
        return err_set(err, ERR_CONVERT,
                       "the screenshot is %ldx%ld pixels, larger than the limit of %d pixels per "
                       "side",
                       w, h, l->max_side);
    if ((int64_t)w * h > l->max_pixels)
        return err_set(err, ERR_CONVERT,
                       "the screenshot is %ldx%ld pixels, larger than the limit of %lld pixels", w,
                       h, (long long)l->max_pixels);
    return 0;
}

/* Decode the "data" of a capture and write it as out.EXT into the output folder. */
static int write_output(const struct conv_job *job, json_t *res, const char *ext,
                        const struct conv_limits *l, struct err *err)
{
    const char *b64 = json_string_value(json_object_get(res, "data"));
    size_t n = 0;
    unsigned char *data = b64 ? base64_decode(b64, strlen(b64), &n) : NULL;
    int rc = -1;

    if (!data || n == 0) {
        err_set(err, ERR_CONVERT, "Chromium returned no %s data", ext);
        goto out;
    }
    if (strcmp(ext, "pdf") == 0) {
        if (n < 5 || memcmp(data, "%PDF-", 5) != 0) {
            err_set(err, ERR_CONVERT, "Chromium returned something that is not a PDF");
            goto out;
        }
    } else {
        long w = 0, h = 0;
        if (!chromium_image_size(data, n, &w, &h)) {
            err_set(err, ERR_CONVERT, "Chromium returned an unreadable %s", ext);
            goto out;
        }
        if (check_size(w, h, l, err) < 0)
            goto out;
    }
    char *path = xasprintf("%s/out.%s", job->output_dir, ext);
    rc = fsx_write_atomic(path, data, n, err);
    free(path);
out:
    free(data);
    return rc;
}

static int capture_image(struct page *p, const struct settings *s, const struct conv_limits *l,
                         bool jpeg, struct err *err)
{
    json_t *args = json_object();
    json_t *res = NULL;
    long w = s->width, h = s->height;
    int rc = -1;

    if (s->full_page) {
        json_t *m = NULL;
        if (cdp_call(p->cdp, p->session, "Page.getLayoutMetrics", NULL, CALL_MS, &m, err) < 0) {
            json_decref(args);
            return -1;
        }
        double ch =
            json_number_value(json_object_get(json_object_get(m, "cssContentSize"), "height"));
        json_decref(m);
        h = ch >= 1 && ch < 1e9 ? (long)ceil(ch) : s->height;
        /* SEC-09: an endless page is cut at the limits, never refused for being long. */
        if (h > l->max_side) {
            log_info("chromium: the page is %ld pixels high: captured down to %d", h, l->max_side);
            h = l->max_side;
        }
        if ((int64_t)w * h > l->max_pixels && (int64_t)w <= l->max_pixels) {
            long cut = (long)(l->max_pixels / w);
            log_info("chromium: the page is %ldx%ld pixels: captured down to %ld", w, h, cut);
            h = cut;
        }
        json_object_set_new(args, "captureBeyondViewport", json_true());
        json_object_set_new(args, "clip",
                            json_pack("{s:i,s:i,s:I,s:I,s:i}", "x", 0, "y", 0, "width",
                                      (json_int_t)w, "height", (json_int_t)h, "scale", 1));
    }
    if (check_size(w, h, l, err) < 0) {
        json_decref(args);
        return -1;
    }
    json_object_set_new(args, "format", json_string(jpeg ? "jpeg" : "png"));
    if (jpeg)
        json_object_set_new(args, "quality", json_integer(s->quality));
    json_object_set_new(args, "fromSurface", json_true());
    if (cdp_call(p->cdp, p->session, "Page.captureScreenshot", args, CAPTURE_MS, &res, err) < 0)
        goto out;
    if (report(p, 90, "Captured")) {
        err_set(err, ERR_CANCELLED, "cancelled");
        goto out;
    }
    rc = write_output(p->job, res, jpeg ? "jpg" : "png", l, err);
out:
    json_decref(res);
    return rc;
}

static int print_pdf(struct page *p, const struct settings *s, const struct conv_limits *l,
                     struct err *err)
{
    json_t *args = json_object();
    json_t *res = NULL;
    char range[32];
    int rc = -1;

    json_object_set_new(args, "printBackground", json_boolean(s->background));
    json_object_set_new(args, "landscape", json_boolean(s->landscape));
    json_object_set_new(args, "paperWidth", json_real(s->paper->width));
    json_object_set_new(args, "paperHeight", json_real(s->paper->height));
    json_object_set_new(args, "marginTop", json_real(s->margin_mm[0] / 25.4));
    json_object_set_new(args, "marginBottom", json_real(s->margin_mm[1] / 25.4));
    json_object_set_new(args, "marginLeft", json_real(s->margin_mm[2] / 25.4));
    json_object_set_new(args, "marginRight", json_real(s->margin_mm[3] / 25.4));
    json_object_set_new(args, "preferCSSPageSize", json_false());
    /* An endless page stops at the page limit; Chromium caps a range at the real count. */
    snprintf(range, sizeof range, "1-%d", l->max_pages);
    json_object_set_new(args, "pageRanges", json_string(range));
    if (cdp_call(p->cdp, p->session, "Page.printToPDF", args, CAPTURE_MS, &res, err) < 0)
        goto out;
    if (report(p, 90, "Printed")) {
        err_set(err, ERR_CANCELLED, "cancelled");
        goto out;
    }
    rc = write_output(p->job, res, "pdf", l, err);
out:
    json_decref(res);
    return rc;
}

/* ---- inputs ------------------------------------------------------------------------ */

/* inputformat=website: the server wrote the page URL into the input file. */
static char *read_url(const char *path, struct err *err)
{
    size_t len = 0;
    char *text = fsx_read_file(path, MAX_URL_FILE, &len, err);
    if (!text)
        return NULL;
    char *s = text;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    s[n] = '\0';
    /* http and https only: file:, chrome:, data: and the like are never ours to open. */
    bool ok = n == strlen(s) &&
              (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0) &&
              fetch_url_syntax_ok(s);
    char *url = ok ? xstrdup(s) : NULL;
    free(text);
    if (!url)
        err_set(err, ERR_CONVERT, "the page address must be an http:// or https:// URL");
    return url;
}

/* An uploaded page: its bytes in base64 for Fetch.fulfillRequest, and its Content-Type. A
 * page that names its charset (meta tag) keeps it; otherwise UTF-8, the upload's usual. */
static int read_html(struct page *p, const char *path, struct err *err)
{
    size_t len = 0;
    char *text = fsx_read_file(path, MAX_HTML, &len, err);
    if (!text)
        return -1;
    size_t head = len < 2048 ? len : 2048;
    bool named = memmem(text, head, "charset", 7) || memmem(text, head, "CHARSET", 7) ||
                 memmem(text, head, "Charset", 7);
    snprintf(p->content_type, sizeof p->content_type, "%s",
             named ? "text/html" : "text/html; charset=utf-8");
    p->html_b64 = base64_encode(text, len, NULL);
    free(text);
    return 0;
}

/* ---- convert ----------------------------------------------------------------------- */

static int open_page(struct page *p, const struct settings *s, bool html, struct err *err)
{
    json_t *res = NULL;
    int rc = -1;

    /* The first call also waits for the browser to come up. */
    if (cdp_call(p->cdp, NULL, "Target.createTarget", json_pack("{s:s}", "url", "about:blank"),
                 START_MS, &res, err) < 0)
        goto out;
    set_str(&p->target, json_string_value(json_object_get(res, "targetId")));
    json_decref(res);
    res = NULL;
    if (!p->target) {
        err_set(err, ERR_CONVERT, "Chromium opened no page");
        goto out;
    }
    if (cdp_call(p->cdp, NULL, "Target.attachToTarget",
                 json_pack("{s:s,s:b}", "targetId", p->target, "flatten", 1), CALL_MS, &res,
                 err) < 0)
        goto out;
    set_str(&p->session, json_string_value(json_object_get(res, "sessionId")));
    if (!p->session) {
        err_set(err, ERR_CONVERT, "Chromium gave no session for the page");
        goto out;
    }
    if (cdp_call(p->cdp, p->session, "Emulation.setDeviceMetricsOverride",
                 json_pack("{s:i,s:i,s:i,s:b}", "width", s->width, "height", s->height,
                           "deviceScaleFactor", 1, "mobile", 0),
                 CALL_MS, NULL, err) < 0 ||
        cdp_call(p->cdp, p->session, "Page.enable", NULL, CALL_MS, NULL, err) < 0 ||
        cdp_call(p->cdp, p->session, "Network.enable", NULL, CALL_MS, NULL, err) < 0)
        goto out;
    json_t *patterns =
        html ? json_pack("[{s:s,s:s}]", "urlPattern", ORIGIN "/*", "requestStage", "Request")
             : json_pack("[{s:s,s:s,s:s}]", "urlPattern", "*", "resourceType", "Document",
                         "requestStage", "Response");
    if (cdp_call(p->cdp, p->session, "Fetch.enable", json_pack("{s:o}", "patterns", patterns),
                 CALL_MS, NULL, err) < 0)
        goto out;
    rc = 0;
out:
    json_decref(res);
    return rc;
}

static int render(struct page *p, const struct settings *s, const struct conv_limits *l,
                  const char *url, struct err *err)
{
    json_t *res = NULL;
    int rc = -1;
    int64_t deadline = time_mono_ms() + chromium_load_cap_ms;

    if (report(p, 20, "Loading the page")) {
        err_set(err, ERR_CANCELLED, "cancelled");
        goto out;
    }
    /* about:blank's own load event may still be on its way: only ours counts. */
    p->loaded = false;
    /* Page.navigate answers once the document's response is in (or failed). */
    if (cdp_call(p->cdp, p->session, "Page.navigate", json_pack("{s:s}", "url", url),
                 chromium_load_cap_ms, &res, err) < 0)
        goto out;
    const char *failed = json_string_value(json_object_get(res, "errorText"));
    if (failed && *failed) {
        navigate_error(failed, err);
        goto out;
    }
    if (wait_loaded(p, deadline, err) < 0)
        goto out;
    if (!p->loaded)
        log_info("chromium: the page did not finish loading within %d s: captured as it is",
                 chromium_load_cap_ms / 1000);
    if (check_document(p, err) < 0)
        goto out;
    if (report(p, 60, "Page loaded")) {
        err_set(err, ERR_CANCELLED, "cancelled");
        goto out;
    }
    if (s->wait_ms > 0 && wait_for(p, s->wait_ms, err) < 0)
        goto out;
    const char *out = p->job->out_format;
    if (strcmp(out, "pdf") == 0)
        rc = print_pdf(p, s, l, err);
    else
        rc = capture_image(p, s, l, strcmp(out, "jpg") == 0, err);
out:
    json_decref(res);
    return rc;
}

static int convert(const struct conv_job *job, struct conv_result *res, struct err *err)
{
    struct settings s;
    struct conv_limits l;
    struct forwarder fw;
    struct browser b = {.dir = NULL, .pid = -1, .fd = -1};
    struct page p = {.job = job};
    char *url = NULL;
    int rc = -1;

    (void)res;
    forwarder_init(&fw);
    if (!have_chromium)
        return err_set(err, ERR_CONVERT, "Chromium is not available on this server");
    if (job->mode != CONV_MODE_CONVERT || !job->inputs || !job->inputs[0] || !job->in_format ||
        !job->out_format || !job->output_dir)
        return err_set(err, ERR_CONVERT, "chromium: nothing to convert");
    const char *out = job->out_format;
    if (strcmp(out, "png") != 0 && strcmp(out, "jpg") != 0 && strcmp(out, "pdf") != 0)
        return err_set(err, ERR_CONVERT, "chromium: cannot write %s", out);
    bool html = strcmp(job->in_format, "html") == 0;
    if (!html && strcmp(job->in_format, "website") != 0)
        return err_set(err, ERR_CONVERT, "chromium: cannot read %s", job->in_format);
    read_settings(job->options, &s);
    l = conv_limits_of(job);

    int channel = job->proxy_fd > 0 ? job->proxy_fd : -1;
    if (html) {
        if (read_html(&p, job->inputs[0], err) < 0)
            goto out;
        url = xstrdup(INPUT_URL);
    } else {
        if (channel < 0) {
            err_set(err, ERR_CONVERT, "web pages need the server's proxy channel");
            goto out;
        }
        url = read_url(job->inputs[0], err);
        if (!url)
            goto out;
    }
    if (report(&p, 0, "Starting Chromium")) {
        err_set(err, ERR_CANCELLED, "cancelled");
        goto out;
    }

    const char *base = getenv("TMPDIR");
    if (!base || base[0] != '/')
        base = "/tmp";
    b.dir = xasprintf("%s/convertd-chromium-XXXXXX", base);
    if (!mkdtemp(b.dir)) {
        err_set(err, ERR_INTERNAL, "chromium: cannot create a work folder in %s: %s", base,
                strerror(errno));
        free(b.dir);
        b.dir = NULL;
        goto out;
    }
    if (forwarder_start(&fw, channel, err) < 0 || browser_start(&b, &s, fw.port, err) < 0)
        goto out;
    p.cdp = cdp_new(b.fd, MAX_MESSAGE);
    b.fd = -1;
    cdp_set_handlers(p.cdp, on_event, page_tick, &p);
    if (report(&p, 5, "Starting Chromium")) {
        err_set(err, ERR_CANCELLED, "cancelled");
        goto out;
    }
    struct err why = ERR_INIT;
    if (open_page(&p, &s, html, &why) < 0) {
        char line[160];
        browser_last_line(&b, line, sizeof line);
        if (why.code == ERR_CANCELLED)
            err_set(err, ERR_CANCELLED, "cancelled");
        else
            err_set(err, ERR_CONVERT, "Chromium did not start: %s%s%s", why.msg,
                    line[0] ? ": " : "", line);
        goto out;
    }
    if (render(&p, &s, &l, url, err) < 0)
        goto out;
    rc = 0;
out:
    cdp_free(p.cdp);
    int status = browser_stop(&b);
    if (status != -1 && WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
        log_debug("chromium: the browser died of signal %d", WTERMSIG(status));
    forwarder_stop(&fw);
    if (b.dir)
        fsx_rm_rf(b.dir);
    if (rc == 0 && job->progress)
        job->progress(job->progress_opaque, 100, "Converted");
    free(b.dir);
    free(url);
    free(p.target);
    free(p.session);
    free(p.doc_request);
    free(p.doc_mime);
    free(p.html_b64);
    return rc;
}

static int init(struct err *err)
{
    /* The worker runs it directly: an executable binary is all we need to know. */
    if (access(CHROMIUM_PATH, X_OK) < 0)
        return err_set(err, ERR_INTERNAL, "chromium: %s is missing (%s): web pages are off",
                       CHROMIUM_PATH, strerror(errno));
    have_chromium = true;
    return 0;
}

const struct converter converter_chromium = {
    .name = "chromium",
    .modes = CONV_MODE_CONVERT,
    /* Above LibreOffice (40), which also reads html: a web page is best drawn by a browser,
     * with its stylesheets and scripts. */
    .priority = 60,
    .pairs = pairs,
    .options = options,
    .note = NULL,
    .init = init,
    .convert = convert,
};
