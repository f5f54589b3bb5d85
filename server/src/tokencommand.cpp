#include "tokencommand.h"
