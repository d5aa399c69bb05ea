/* SPDX-License-Identifier: MIT */
/* test_chromium.c - web pages through the real headless Chromium: pixels of the rendered page
 * read back with libvips, PDFs with pdfinfo/pdftotext, pages served by an HTTP server thread
 * on 127.0.0.1 reached through the real address-guarded proxy, and no browser process left
 * behind after a job or after its worker is killed. */
#include "convertd-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#if !HAVE_VIPS
int main(void)
{
    puts("1..0 # SKIP libvips not built (the rendered pixels are read with it)");
    return 0;
}
#else

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <jansson.h>
#include <vips/vips.h>

#include "common/err.h"
#include "common/fsx.h"
#include "converters/converter.h"
#include "converters/options.h"
#include "storage/fetch.h"
#include "storage/webproxy.h"

#define CHROMIUM "/usr/lib/chromium/chromium"
#define CRASHPAD "/usr/lib/chromium/chrome_crashpad_handler"

extern const struct converter converter_chromium;
extern int chromium_load_cap_ms;
bool chromium_image_size(const unsigned char *d, size_t n, long *w, long *h);

static char workdir[256]; /* this test's folder: inputs, TMPDIR, outputs */
static int proxy_channel; /* conv_job.proxy_fd of the next job: 0 = none */
static char outdir[512];
static int run_count;
static struct conv_limits limits = {.max_pixels = 100000000, .max_side = 32768, .max_pages = 50};

/* A 400x300 block of rgb(200, 30, 40) in the middle of an 800x600 white page. */
static const char block_html[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><style>"
    "html,body{margin:0;background:#fff}"
    "#b{position:absolute;left:200px;top:150px;width:400px;height:300px;"
    "background:rgb(200,30,40)}</style></head>"
    "<body><div id=\"b\"></div><p>Hello convertd</p></body></html>";

/* ---- helpers ----------------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static char *wpath(const char *name)
{
    static char buf[8][600];
    static int n;
    char *p = buf[n++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", workdir, name);
    return p;
}

static char *opath(const char *name)
{
    static char buf[8][700];
    static int n;
    char *p = buf[n++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", outdir, name);
    return p;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t parent_of(pid_t pid)
{
    char path[64], stat[512];
    int ppid = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t k = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[k] = '\0';
    char *rp = strrchr(stat, ')');
    if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1)
        return 0;
    return (pid_t)ppid;
}

/* Chromium processes (browser, helpers, crash handlers) below pid `root` (by their parent
 * chain; the test is a subreaper, so orphans stay below it). */
static int chromium_below(pid_t root, pid_t *found, int max)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        char path[64], exe[256];
        pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
        if (pid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
        ssize_t len = readlink(path, exe, sizeof exe - 1);
        if (len <= 0)
            continue;
        exe[len] = '\0';
        /* The crash handlers too: they leave the browser's process group. */
        if (strcmp(exe, CHROMIUM) != 0 && strcmp(exe, CRASHPAD) != 0)
            continue;
        for (pid_t p = pid; p > 1;) {
            pid_t ppid = parent_of(p);
            if (ppid <= 0)
                break;
            if (ppid == root) {
                if (n < max)
                    found[n] = pid;
                n++;
                break;
            }
            p = ppid;
        }
    }
    closedir(d);
    return n;
}

/* Reap what was reparented to us (we are a subreaper) and wait up to ms for no Chromium
 * process to be left below us. Returns how many are left. */
static int chromium_left_after(int ms)
{
    int64_t end = now_ms() + ms;
    pid_t pids[64];
    int n;
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        n = chromium_below(getpid(), pids, 64);
        if (n == 0 || now_ms() >= end)
            return n;
        usleep(50000);
    }
}

/* Progress of the running job: the last percentage seen, and where to cancel (-1: never). */
static double last_percent;
static double cancel_at = -1;

static bool on_progress(void *opaque, double percent, const char *message)
{
    (void)opaque;
    (void)message;
    ck_assert_msg(percent >= last_percent, "progress went back from %g to %g", last_percent,
                  percent);
    last_percent = percent;
    return cancel_at >= 0 && percent >= cancel_at;
}

/* Run one conversion; 0 or -1 with err. Outputs land in a new outdir. */
static int run(const char *in_fmt, const char *out_fmt, const char *input, const char *opts,
               struct err *err)
{
    json_t *given = opts ? json_loads(opts, 0, NULL) : NULL;
    json_t *eff = NULL, *echo = NULL;
    const char *inputs[] = {input, NULL};

    snprintf(outdir, sizeof outdir, "%s/out%d-%d", workdir, (int)getpid(), ++run_count);
    ck_assert_int_eq(mkdir(outdir, 0700), 0);
    ck_assert_int_eq(options_apply(&converter_chromium, given, &eff, &echo, err), 0);
    struct conv_job job = {
        .mode = CONV_MODE_CONVERT,
        .inputs = inputs,
        .output_dir = outdir,
        .in_format = in_fmt,
        .out_format = out_fmt,
        .options = eff,
        .limits = &limits,
        .progress = on_progress,
        .threads = 1,
        .proxy_fd = proxy_channel,
    };
    last_percent = 0;
    struct conv_result res = {0};
    int rc = converter_chromium.convert(&job, &res, err);
    json_decref(given);
    json_decref(eff);
    json_decref(echo);
    return rc;
}

static void image_size(const char *path, long *w, long *h)
{
    static unsigned char data[1 << 16];
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "no output %s", path);
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    ck_assert(chromium_image_size(data, n, w, h));
}

static void pixel(const char *path, int x, int y, double rgb[3])
{
    VipsImage *im = vips_image_new_from_file(path, NULL);
    double *v = NULL;
    int n = 0;
    ck_assert_msg(im != NULL, "libvips cannot read %s", path);
    ck_assert_int_eq(vips_getpoint(im, &v, &n, x, y, NULL), 0);
    ck_assert_int_ge(n, 3);
    for (int i = 0; i < 3; i++)
        rgb[i] = v[i];
    g_free(v);
    g_object_unref(im);
}

static bool near(const double rgb[3], double r, double g, double b, double tol)
{
    return fabs(rgb[0] - r) <= tol && fabs(rgb[1] - g) <= tol && fabs(rgb[2] - b) <= tol;
}

/* stdout of a program (argv[0] absolute), at most size - 1 bytes. */
static void capture(char *const argv[], char *out, size_t size)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < size && (r = read(p[0], out + n, size - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed", argv[0]);
}

/* ---- a tiny HTTP origin on 127.0.0.1 ----------------------------------------------- */

struct origin {
    int fd, port;
    int stop[2];
    pthread_t thread;
    int held[8]; /* /hang connections, kept open */
    int nheld;
    int requests;
};

static struct origin origin;

static void *origin_loop(void *arg)
{
    struct origin *o = arg;
    for (;;) {
        struct pollfd pf[2] = {{.fd = o->fd, .events = POLLIN},
                               {.fd = o->stop[0], .events = POLLIN}};
        if (poll(pf, 2, -1) < 0 || pf[1].revents)
            break;
        int c = accept(o->fd, NULL, NULL);
        if (c < 0)
            continue;
        char req[4096];
        size_t n = 0;
        while (n < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
            ssize_t r = recv(c, req + n, sizeof req - 1 - n, 0);
            if (r <= 0)
                break;
            n += (size_t)r;
            req[n] = '\0';
        }
        req[n] = '\0';
        o->requests++;
        char path[256] = "";
        sscanf(req, "%*s %255s", path);
        char head[256];
        if (strcmp(path, "/page") == 0 || strcmp(path, "/octet") == 0) {
            /* /octet as a plain file server sends it: a browser would download it. */
            snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     strcmp(path, "/page") == 0 ? "text/html" : "application/octet-stream",
                     strlen(block_html));
            send(c, head, strlen(head), MSG_NOSIGNAL);
            send(c, block_html, strlen(block_html), MSG_NOSIGNAL);
        } else if (strcmp(path, "/hang") == 0 && o->nheld < 8) {
            /* The document starts and never ends: no load event ever. */
            static const char part[] =
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
                "<!doctype html><html><body style=\"margin:0;background:rgb(20,180,60)\">"
                "<p>still loading";
            send(c, part, strlen(part), MSG_NOSIGNAL);
            o->held[o->nheld++] = c;
            continue;
        } else {
            static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                                     "Connection: close\r\n\r\n";
            send(c, nf, strlen(nf), MSG_NOSIGNAL);
        }
        close(c);
    }
    return NULL;
}

static void origin_start(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    memset(&origin, 0, sizeof origin);
    origin.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(origin.fd, 0);
    ck_assert_int_eq(bind(origin.fd, (struct sockaddr *)&sin, sizeof sin), 0);
    ck_assert_int_eq(listen(origin.fd, 16), 0);
    ck_assert_int_eq(getsockname(origin.fd, (struct sockaddr *)&sin, &len), 0);
    origin.port = ntohs(sin.sin_port);
    ck_assert_int_eq(pipe2(origin.stop, O_CLOEXEC), 0);
    ck_assert_int_eq(pthread_create(&origin.thread, NULL, origin_loop, &origin), 0);
}

static void origin_stop(void)
{
    char b = 0;
    ck_assert_int_eq(write(origin.stop[1], &b, 1), 1);
    pthread_join(origin.thread, NULL);
    for (int i = 0; i < origin.nheld; i++)
        close(origin.held[i]);
    close(origin.fd);
    close(origin.stop[0]);
    close(origin.stop[1]);
}

/* The worker's hand-over socket, its server end served by the real proxy. */
static void proxy_attach(void)
{
    int sv[2];
    struct err err = ERR_INIT;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(webproxy_attach(sv[0], &err), 0);
    proxy_channel = sv[1];
}

static const char *url_file(const char *path)
{
    char text[128];
    snprintf(text, sizeof text, "http://127.0.0.1:%d%s\n", origin.port, path);
    const char *f = wpath("page.website");
    write_text(f, text);
    return f;
}

/* ---- fixture ----------------------------------------------------------------------- */

static void setup(void)
{
    struct err err = ERR_INIT;
    snprintf(workdir, sizeof workdir, "/tmp/convertd-test-chromium-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(workdir));
    setenv("TMPDIR", workdir, 1);
    /* Chromium's helpers that outlive their parent come to us, so they can be counted. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    proxy_channel = 0; /* none unless a test attaches one */
    ck_assert_int_eq(converter_chromium.init(&err), 0);
    chromium_load_cap_ms = 30000;
    write_text(wpath("block.html"), block_html);
    if (VIPS_INIT("test_chromium"))
        ck_abort_msg("vips_init failed");
}

static void teardown(void)
{
    int left = chromium_left_after(3000);
    nftw(workdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    ck_assert_int_eq(left, 0);
    if (proxy_channel > 0)
        close(proxy_channel);
    proxy_channel = 0;
}

/* ---- pure parts -------------------------------------------------------------------- */

START_TEST(test_image_size)
{
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                        'I',  'H', 'D', 'R', 0,    0,    3,    32,   0, 0, 2, 88};
    /* SOI, APP0 of 4 bytes, SOF0: 8 bits, height 600, width 800. */
    static const unsigned char jpg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 4,    'J', 'F', 0xFF,
                                        0xC0, 0,    11,   8,    2, 0x58, 3,   32,  3};
    static const unsigned char junk[] = {0xFF, 0xD8, 0x00, 0x01, 0x02, 0x03};
    long w = 0, h = 0;
    ck_assert(chromium_image_size(png, sizeof png, &w, &h));
    ck_assert_int_eq(w, 800);
    ck_assert_int_eq(h, 600);
    w = h = 0;
    ck_assert(chromium_image_size(jpg, sizeof jpg, &w, &h));
    ck_assert_int_eq(w, 800);
    ck_assert_int_eq(h, 600);
    ck_assert(!chromium_image_size(junk, sizeof junk, &w, &h));
    ck_assert(!chromium_image_size(png, 20, &w, &h));
}
END_TEST

START_TEST(test_options_table)
{
    static const struct {
        const char *given;
        bool ok;
    } cases[] = {
        {"{}", true},
        {"{\"screen_width\": 800, \"screen_height\": \"600\"}", true},
        {"{\"screen_width\": 0}", false},
        {"{\"screen_height\": 10001}", false},
        {"{\"wait_time\": 30001}", false},
        {"{\"page_size\": \"Letter\", \"page_orientation\": \"LANDSCAPE\"}", true},
        {"{\"page_size\": \"b5\"}", false},
        {"{\"paper_size\": \"A3\", \"margin\": 0}", true},
        {"{\"margin_top\": 101}", false},
        {"{\"quality\": 0}", false},
        {"{\"full_page\": \"yes\", \"print_background\": 0}", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *given = json_loads(cases[i].given, 0, NULL);
        json_t *eff = NULL, *echo = NULL;
        struct err err = ERR_INIT;
        int rc = options_apply(&converter_chromium, given, &eff, &echo, &err);
        ck_assert_msg((rc == 0) == cases[i].ok, "%s: %s", cases[i].given, err.msg);
        if (rc == 0 && i == 0) {
            /* spec "Converter options": web pages default to a 1280x800 screen. */
            ck_assert_int_eq(json_integer_value(json_object_get(eff, "screen_width")), 1280);
            ck_assert_int_eq(json_integer_value(json_object_get(eff, "screen_height")), 800);
            ck_assert_str_eq(json_string_value(json_object_get(eff, "page_size")), "a4");
        }
        json_decref(given);
        json_decref(eff);
        json_decref(echo);
    }
    static const char *const want[][2] = {{"website", "png"}, {"website", "jpg"},
                                          {"website", "pdf"}, {"html", "png"},
                                          {"html", "jpg"},    {"html", "pdf"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bool found = false;
        for (const struct conv_pair *p = converter_chromium.pairs; p->in; p++)
            found = found || (strcmp(p->in, want[i][0]) == 0 && strcmp(p->out, want[i][1]) == 0);
        ck_assert_msg(found, "%s -> %s missing", want[i][0], want[i][1]);
    }
}
END_TEST

/* ---- rendering --------------------------------------------------------------------- */

START_TEST(test_html_png)
{
    struct err err = ERR_INIT;
    double rgb[3];
    long w, h;
    ck_assert_msg(run("html", "png", wpath("block.html"),
                      "{\"screen_width\": 800, \"screen_height\": 600}", &err) == 0,
                  "%s", err.msg);
    image_size(opath("out.png"), &w, &h);
    ck_assert_int_eq(w, 800);
    ck_assert_int_eq(h, 600);
    pixel(opath("out.png"), 400, 300, rgb);
    ck_assert_msg(near(rgb, 200, 30, 40, 3), "centre is %g,%g,%g", rgb[0], rgb[1], rgb[2]);
    pixel(opath("out.png"), 790, 590, rgb);
    ck_assert_msg(near(rgb, 255, 255, 255, 3), "corner is %g,%g,%g", rgb[0], rgb[1], rgb[2]);
    ck_assert_int_eq(chromium_left_after(2000), 0);
}
END_TEST

START_TEST(test_full_page)
{
    struct err err = ERR_INIT;
    long w, h;
    double rgb[3];
    write_text(wpath("tall.html"),
               "<!doctype html><html><body style=\"margin:0\">"
               "<div style=\"height:2500px;background:rgb(0,0,255)\"></div>"
               "<div style=\"height:100px;background:rgb(0,255,0)\"></div></body></html>");
    ck_assert_msg(run("html", "png", wpath("tall.html"),
                      "{\"screen_width\": 640, \"screen_height\": 480, \"full_page\": true}",
                      &err) == 0,
                  "%s", err.msg);
    image_size(opath("out.png"), &w, &h);
    ck_assert_int_eq(w, 640);
    ck_assert_int_eq(h, 2600);
    pixel(opath("out.png"), 320, 2550, rgb);
    ck_assert_msg(near(rgb, 0, 255, 0, 3), "bottom is %g,%g,%g", rgb[0], rgb[1], rgb[2]);

    /* An over-long page is cut at the side limit, not refused. */
    limits.max_side = 1000;
    ck_assert_msg(run("html", "png", wpath("tall.html"),
                      "{\"screen_width\": 640, \"screen_height\": 480, \"full_page\": true}",
                      &err) == 0,
                  "%s", err.msg);
    image_size(opath("out.png"), &w, &h);
    ck_assert_int_eq(h, 1000);
    /* A viewport over the limit is refused. */
    ck_assert_int_eq(run("html", "png", wpath("tall.html"), "{\"screen_width\": 1200}", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "larger than the limit"));
    limits.max_side = 32768;
}
END_TEST

START_TEST(test_html_pdf)
{
    static const struct {
        const char *opts, *size;
    } cases[] = {
        {"{}", "(A4)"},
        {"{\"page_size\": \"letter\"}", "(letter)"},
        {"{\"paper_size\": \"A3\", \"page_orientation\": \"landscape\"}", "(A3)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct err err = ERR_INIT;
        char text[8192];
        ck_assert_msg(run("html", "pdf", wpath("block.html"), cases[i].opts, &err) == 0, "%s",
                      err.msg);
        char *info[] = {"/usr/bin/pdfinfo", opath("out.pdf"), NULL};
        capture(info, text, sizeof text);
        ck_assert_msg(strstr(text, cases[i].size), "%s: %s", cases[i].opts, text);
        double w = 0, h = 0;
        const char *ps = strstr(text, "Page size:");
        ck_assert(ps && sscanf(ps, "Page size: %lf x %lf", &w, &h) == 2);
        ck_assert_msg((w > h) == (strstr(cases[i].opts, "landscape") != NULL), "%gx%g", w, h);
        ck_assert_msg(strstr(text, "Pages:           1"), "%s", text);
        char *pt[] = {"/usr/bin/pdftotext", opath("out.pdf"), "-", NULL};
        capture(pt, text, sizeof text);
        ck_assert_msg(strstr(text, "Hello convertd"), "text: %s", text);
    }
}
END_TEST

START_TEST(test_jpg_quality)
{
    struct err err = ERR_INIT;
    long w, h;
    struct stat hi, lo;
    /* Noise-like content so that quality shows in the size. */
    write_text(wpath("grad.html"),
               "<!doctype html><html><body style=\"margin:0;background:linear-gradient(45deg,"
               "red,yellow,green,blue,purple)\"><h1>Quality</h1>"
               "<p style=\"font-size:9px\">abcdefghijklmnopqrstuvwxyz 0123456789 "
               "abcdefghijklmnopqrstuvwxyz 0123456789</p></body></html>");
    ck_assert_msg(run("html", "jpg", wpath("grad.html"),
                      "{\"screen_width\": 800, \"screen_height\": 600, \"quality\": 95}",
                      &err) == 0,
                  "%s", err.msg);
    image_size(opath("out.jpg"), &w, &h);
    ck_assert_int_eq(w, 800);
    ck_assert_int_eq(h, 600);
    ck_assert_int_eq(stat(opath("out.jpg"), &hi), 0);
    ck_assert_msg(run("html", "jpg", wpath("grad.html"),
                      "{\"screen_width\": 800, \"screen_height\": 600, \"quality\": 5}", &err) == 0,
                  "%s", err.msg);
    ck_assert_int_eq(stat(opath("out.jpg"), &lo), 0);
    ck_assert_msg(lo.st_size * 2 < hi.st_size, "q5 %lld bytes, q95 %lld bytes",
                  (long long)lo.st_size, (long long)hi.st_size);
}
END_TEST

START_TEST(test_no_local_files)
{
    struct err err = ERR_INIT;
    char html[2048], text[8192];
    write_text(wpath("secret.txt"), "TOPSECRET-4711\n");
    snprintf(html, sizeof html,
             "<!doctype html><html><body><p>Visible page text</p>"
             "<iframe src=\"file://%s\"></iframe><iframe src=\"file:///etc/hostname\"></iframe>"
             "<img src=\"file://%s\"><object data=\"file://%s\"></object>"
             "<iframe src=\"/secret.txt\"></iframe></body></html>",
             wpath("secret.txt"), wpath("secret.txt"), wpath("secret.txt"));
    write_text(wpath("evil.html"), html);
    ck_assert_msg(run("html", "pdf", wpath("evil.html"), NULL, &err) == 0, "%s", err.msg);
    char *pt[] = {"/usr/bin/pdftotext", opath("out.pdf"), "-", NULL};
    capture(pt, text, sizeof text);
    ck_assert_msg(strstr(text, "Visible page text"), "text: %s", text);
    ck_assert_msg(!strstr(text, "TOPSECRET"), "a local file showed: %s", text);
    FILE *f = fopen("/etc/hostname", "r");
    char host[256] = "";
    if (f && fgets(host, sizeof host, f)) {
        host[strcspn(host, "\r\n")] = '\0';
        if (strlen(host) >= 4)
            ck_assert_msg(!strstr(text, host), "/etc/hostname showed: %s", text);
    }
    if (f)
        fclose(f);
}
END_TEST

START_TEST(test_cancel)
{
    struct err err = ERR_INIT;
    cancel_at = 20; /* "Loading the page" */
    ck_assert_int_eq(run("html", "png", wpath("block.html"), NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert(fsx_dir_is_empty(outdir));
    cancel_at = -1;
    err = (struct err)ERR_INIT;
    /* A finished job reports 100 last. */
    ck_assert_msg(run("html", "png", wpath("block.html"), NULL, &err) == 0, "%s", err.msg);
    ck_assert(last_percent == 100);
}
END_TEST

START_TEST(test_website_needs_channel)
{
    struct err err = ERR_INIT;
    write_text(wpath("x.website"), "http://127.0.0.1:9/\n");
    ck_assert_int_eq(run("website", "png", wpath("x.website"), NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "web pages need the server's proxy channel");

    /* Only http(s) URLs, even with a channel. */
    static const char *const bad[] = {"file:///etc/passwd",
                                      "chrome://version",
                                      "data:text/html,hi",
                                      "javascript:alert(1)",
                                      "",
                                      NULL};
    proxy_attach();
    for (const char *const *b = bad; *b; b++) {
        struct err e = ERR_INIT;
        write_text(wpath("x.website"), *b);
        ck_assert_int_eq(run("website", "png", wpath("x.website"), NULL, &e), -1);
        ck_assert_msg(strstr(e.msg, "http:// or https://"), "%s: %s", *b, e.msg);
    }
}
END_TEST

START_TEST(test_website_proxy)
{
    struct err err = ERR_INIT;
    double rgb[3];

    proxy_attach();
    origin_start();
    fetch_set_policy(true, NULL);
    ck_assert_msg(run("website", "png", url_file("/page"),
                      "{\"screen_width\": 800, \"screen_height\": 600}", &err) == 0,
                  "%s", err.msg);
    pixel(opath("out.png"), 400, 300, rgb);
    ck_assert_msg(near(rgb, 200, 30, 40, 3), "centre is %g,%g,%g", rgb[0], rgb[1], rgb[2]);
    ck_assert_int_ge(origin.requests, 1);

    /* A page sent as application/octet-stream is rendered, not downloaded. */
    ck_assert_msg(run("website", "pdf", url_file("/octet"), NULL, &err) == 0, "%s", err.msg);
    char text[8192];
    char *pt[] = {"/usr/bin/pdftotext", opath("out.pdf"), "-", NULL};
    capture(pt, text, sizeof text);
    ck_assert_msg(strstr(text, "Hello convertd"), "text: %s", text);

    /* The same page with private addresses refused: the proxy's 403 is the error. */
    fetch_set_policy(false, NULL);
    int before = origin.requests;
    err = (struct err)ERR_INIT;
    ck_assert_int_eq(run("website", "png", url_file("/page"), NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strstr(err.msg, "the page's address is not allowed"), "%s", err.msg);
    ck_assert_int_eq(origin.requests, before);
    ck_assert(fsx_dir_is_empty(outdir));
    origin_stop();
}
END_TEST

START_TEST(test_never_loads)
{
    struct err err = ERR_INIT;
    double rgb[3];

    proxy_attach();
    origin_start();
    fetch_set_policy(true, NULL);
    chromium_load_cap_ms = 3000;
    int64_t t0 = now_ms();
    ck_assert_msg(run("website", "png", url_file("/hang"),
                      "{\"screen_width\": 320, \"screen_height\": 200}", &err) == 0,
                  "%s", err.msg);
    int64_t took = now_ms() - t0;
    ck_assert_msg(took < 15000, "took %lld ms", (long long)took);
    pixel(opath("out.png"), 160, 100, rgb);
    ck_assert_msg(near(rgb, 20, 180, 60, 3), "page is %g,%g,%g", rgb[0], rgb[1], rgb[2]);
    origin_stop();
}
END_TEST

/* A worker (here a child of the test) killed mid-job, its browser killed alone, or a hung
 * browser whose worker is killed at the timeout: within a couple of seconds no Chromium
 * process is left. */
START_TEST(test_killed_mid_job)
{
    for (int variant = 0; variant < 3; variant++) {
        pid_t worker = fork();
        ck_assert_int_ge(worker, 0);
        if (worker == 0) {
            struct err err = ERR_INIT;
            prctl(PR_SET_CHILD_SUBREAPER, 0);
            run("html", "png", wpath("block.html"), "{\"wait_time\": 20000}", &err);
            _exit(err.code == ERR_OK ? 0 : 1);
        }
        pid_t pids[64];
        int n = 0;
        int64_t end = now_ms() + 15000;
        /* Wait for the browser and its renderer to be up. */
        while (now_ms() < end && (n = chromium_below(worker, pids, 64)) < 3)
            usleep(100000);
        ck_assert_msg(n >= 3, "only %d chromium processes came up", n);
        usleep(500000);
        n = chromium_below(worker, pids, 64);
        /* The browser is the one Chromium process whose parent is the worker. */
        pid_t browser = 0;
        for (int i = 0; i < n && i < 64; i++)
            if (parent_of(pids[i]) == worker)
                browser = pids[i];
        ck_assert_int_gt(browser, 0);
        if (variant == 1) {
            ck_assert_int_eq(kill(browser, SIGKILL), 0);
        } else {
            /* Variant 2: a browser that hangs (stopped: it cannot notice its DevTools pipe
             * closing) still dies with its worker, and its helpers with it. */
            if (variant == 2)
                ck_assert_int_eq(kill(browser, SIGSTOP), 0);
            kill(worker, SIGKILL);
        }
        int st;
        int64_t w0 = now_ms();
        ck_assert_int_eq(waitpid(worker, &st, 0), worker);
        if (variant == 1) {
            /* The worker saw its browser go and failed the job at once. */
            ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
            ck_assert_int_lt(now_ms() - w0, 5000);
        }
        ck_assert_int_eq(chromium_left_after(2500), 0);
        for (int i = 0; i < n && i < 64; i++) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/exe", (int)pids[i]);
            char exe[256];
            ssize_t len = readlink(path, exe, sizeof exe - 1);
            ck_assert_msg(len <= 0, "chromium process %d survived", (int)pids[i]);
        }
    }
}
END_TEST

static Suite *chromium_suite(void)
{
    Suite *s = suite_create("chromium");
    TCase *t = tcase_create("pure");
    tcase_add_test(t, test_image_size);
    tcase_add_test(t, test_options_table);
    suite_add_tcase(s, t);

    t = tcase_create("render");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_html_png);
    tcase_add_test(t, test_full_page);
    tcase_add_test(t, test_html_pdf);
    tcase_add_test(t, test_jpg_quality);
    tcase_add_test(t, test_no_local_files);
    tcase_add_test(t, test_cancel);
    suite_add_tcase(s, t);

    t = tcase_create("network");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_website_needs_channel);
    tcase_add_test(t, test_website_proxy);
    tcase_add_test(t, test_never_loads);
    suite_add_tcase(s, t);

    t = tcase_create("lifetime");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_killed_mid_job);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    if (access(CHROMIUM, X_OK) < 0) {
        puts("1..0 # SKIP " CHROMIUM " not installed");
        return 0;
    }
    SRunner *sr = srunner_create(chromium_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
