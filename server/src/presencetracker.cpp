#include "presencetracker.h"
