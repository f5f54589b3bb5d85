#include "rawclient.h"
