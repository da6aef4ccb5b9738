/* fake_env.h - a fake environment for config_parse() in unit tests: set
 * fake_env to a NULL-terminated list of "NAME=value" strings (or NULL for
 * an empty environment) and pass env_lookup as the lookup function. */
#ifndef NATTER_TESTS_FAKE_ENV_H
#define NATTER_TESTS_FAKE_ENV_H

#include <stddef.h>
#include <string.h>

static const char *const *fake_env;

static inline const char *env_lookup(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; fake_env && fake_env[i]; i++)
        if (strncmp(fake_env[i], name, n) == 0 && fake_env[i][n] == '=')
            return fake_env[i] + n + 1;
    return NULL;
}

#endif
