package gateway_test

import "context"

type contextT = context.Context
