#include "duk_udata.h"

int sb_duk_exec_timeout(void *udata) {
  const sb_duk_udata *u = udata;
  return u != 0 && (u->interrupt || (u->stop && atomic_load_explicit(u->stop, memory_order_relaxed)));
}
