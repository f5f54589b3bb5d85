#include "jwtverifier.h"
