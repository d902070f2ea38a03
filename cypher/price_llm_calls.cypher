// Cost of each touched call: the reported figure, else an estimate from the price table
// ($prices: 'provider/model' or 'provider/*' -> {input, output} USD per 1k tokens).
UNWIND $ids AS id
MATCH (c:LLMCall {id: id})
WITH c, coalesce($prices[c.provider + '/' + c.model], $prices[c.provider + '/*']) AS price
SET c.cost_usd = CASE
      WHEN c.cost_reported IS NOT NULL THEN c.cost_reported
      WHEN price IS NULL OR c.output_tokens IS NULL THEN null
      ELSE (coalesce(c.input_tokens, 0) * price.input + c.output_tokens * price.output) / 1000.0
    END,
    c.cost_estimated = c.cost_reported IS NULL AND price IS NOT NULL AND c.output_tokens IS NOT NULL
