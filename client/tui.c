#include "client/tui.h"
int tui_run(const opts *o) { (void)o; return 0; }
