/* Names of hcall return codes, for readable check lines. */
#include "guest.h"

const char *hcall_rc_name(long rc)
{
	switch (rc) {
	case H_SUCCESS: return "H_SUCCESS";
	case H_BUSY: return "H_BUSY";
	case H_HARDWARE: return "H_HARDWARE";
	case H_FUNCTION: return "H_FUNCTION";
	case H_PRIVILEGE: return "H_PRIVILEGE";
	case H_PARAMETER: return "H_PARAMETER";
	case H_P2: return "H_P2";
	case H_P3: return "H_P3";
	case H_P4: return "H_P4";
	case H_P5: return "H_P5";
	case H_MULTI_THREADS_ACTIVE: return "H_MULTI_THREADS_ACTIVE";
	}
	return NULL;
}
