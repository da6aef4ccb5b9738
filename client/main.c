/* natter - the terminal client: full-screen chat with no command, else
 * one one-shot command (see `natter --help`). */
#include <locale.h>
#include <stdio.h>
#include "client/cmd.h"
#include "client/opts.h"
#include "client/tui.h"

int main(int argc, char **argv)
{
    opts o;
    char err[OPTS_ERR_MAX];
    setlocale(LC_ALL, "");
    if (opts_parse(&o, argc, argv, err) != NT_OK) {
        fprintf(stderr, "natter: %s\n", err);
        return EXIT_USAGE;
    }
    if (o.version) {
        printf("natter %s\n", NATTER_VERSION);
        return EXIT_OK;
    }
    if (o.help) {
        if (o.cmd)
            opts_cmd_usage(stdout, o.cmd);
        else
            opts_usage(stdout);
        return EXIT_OK;
    }
    if (o.json && !o.cmd) {
        fprintf(stderr, "natter: --json needs a command (see natter --help)\n");
        return EXIT_USAGE;
    }
    return o.cmd ? cmd_run(&o) : tui_run(&o);
}
