#include "testserver.h"
