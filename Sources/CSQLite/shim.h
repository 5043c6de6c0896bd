#ifndef ACCORD_CSQLITE_SHIM_H
#define ACCORD_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
