#include "httpapi.h"
