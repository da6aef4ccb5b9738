/* source_addr.c - see source_addr.h. */
#include "server/core/source_addr.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool host_is_loopback(const char *h, size_t n)
{
    return (n >= 4 && !strncmp(h, "127.", 4)) || (n == 3 && !strncmp(h, "::1", 3)) ||
           (n == 9 && !strncasecmp(h, "localhost", 9));
}

void source_addr_init(source_addr *src, const char *listen)
{
    memset(src, 0, sizeof(*src));
    const char *h = listen ? listen : "", *end;
    bool v6 = *h == '[';
    if (v6) {
        h++;
        end = strchr(h, ']');
    } else {
        end = strrchr(h, ':');
    }
    size_t n = end ? (size_t)(end - h) : 0;
    if (n == 0 || n >= SOURCE_ADDR_HOST_MAX || (n == 7 && !strncmp(h, "0.0.0.0", 7)) ||
        (n == 2 && !strncmp(h, "::", 2)))
        return;
    memcpy(src->host, h, n);
    src->v6 = v6;
    src->loopback = host_is_loopback(h, n);
    snprintf(src->iface, sizeof(src->iface), "host!%s", src->host);
}

const char *source_addr_for(const source_addr *src, const char *url)
{
    const char *d = url ? strstr(url, "://") : NULL;
    if (!src->host[0] || !d)
        return NULL;
    d += 3;
    bool v6 = *d == '[';
    if (v6)
        d++;
    size_t n = strcspn(d, v6 ? "]" : ":/");
    if (n == 0 || host_is_loopback(d, n) != src->loopback)
        return NULL;
    bool literal_v4 = !v6 && strspn(d, "0123456789.") == n;
    if ((v6 && !src->v6) || (literal_v4 && src->v6))
        return NULL;
    return src->iface;
}

void source_addr_bind(const source_addr *src, CURL *h, const char *url)
{
    const char *iface = source_addr_for(src, url);
    if (!iface)
        return;
    curl_easy_setopt(h, CURLOPT_INTERFACE, iface);
    curl_easy_setopt(h, CURLOPT_IPRESOLVE, src->v6 ? CURL_IPRESOLVE_V6 : CURL_IPRESOLVE_V4);
}
