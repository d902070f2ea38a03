// Fails with Neo.ClientError.Statement.ArithmeticError (a statement error, not an outage).
RETURN 1 / 0 AS never
