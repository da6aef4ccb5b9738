/* tui.h - the full-screen client (ncursesw). */
#ifndef NATTER_CLIENT_TUI_H
#define NATTER_CLIENT_TUI_H

#include "client/opts.h"

/* Run until /quit or Ctrl-C; returns the process exit status. */
int tui_run(const opts *o);

#endif
