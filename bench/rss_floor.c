/* bench/rss_floor.c - the least resident memory a process can occupy that
 * uses natterd's libraries the way natterd must: the floor that natterd's
 * idle RSS is compared with.
 *
 *   build/bench/rss_floor [--dir DIR]
 *
 * It loads the five libraries natterd links (libmicrohttpd, whose
 * constructor initialises GnuTLS; libcurl, initialised with
 * curl_global_init as natterd does before it calls a peer, which
 * initialises OpenSSL and libssh2; SQLite; Jansson; mbedTLS), opens a WAL
 * database under DIR (default build/bench-work) with a table in it as
 * natterd's store does, does one JSON round trip and one hash, starts no
 * thread and opens no socket, then prints its own memory:
 *
 *   rss-floor <VmRSS> kB-rss <RssAnon> kB-anon <RssFile> kB-file
 *
 * Every figure of it is the libraries' (their pages touched at load and
 * initialisation) and the C runtime's; whatever natterd holds above it at
 * idle is natterd's own. bench/conns prints both with the ratio. */
#include <curl/curl.h>
#include <jansson.h>
#include <mbedtls/sha256.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long self_status(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static int use_sqlite(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/rss-floor-%ld.db", dir, (long)getpid());
    sqlite3 *db = NULL;
    int ok = sqlite3_open(path, &db) == SQLITE_OK &&
             sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                              "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT); INSERT INTO t(b) VALUES('x');"
                              "SELECT count(*) FROM t;",
                          NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db);
    unlink(path);
    char side[540];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *dir = "build/bench-work";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "usage: rss_floor [--dir DIR]\n");
            return !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ? 0 : 2;
        }
    }
    mkdir(dir, 0700);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || use_sqlite(dir)) {
        fprintf(stderr, "rss_floor: cannot initialise libcurl or open a database in %s\n", dir);
        return 1;
    }
    json_t *j = json_pack("{s:s,s:i}", "mhd", MHD_get_version(), "n", 1);
    char *s = json_dumps(j, JSON_COMPACT);
    unsigned char h[32];
    int hashed = s ? mbedtls_sha256_ret((const unsigned char *)s, strlen(s), h, 0) : -1;
    free(s);
    json_decref(j);
    if (hashed) {
        fprintf(stderr, "rss_floor: jansson or mbedTLS failed\n");
        return 1;
    }
    printf("rss-floor %ld kB-rss %ld kB-anon %ld kB-file\n", self_status("VmRSS"), self_status("RssAnon"),
           self_status("RssFile"));
    curl_global_cleanup();
    return 0;
}
