// SwiftPM builds a C target only if it has at least one source file; the wrappers are all
// `static inline` in include/COpenSSLShim.h.
#include "COpenSSLShim.h"
