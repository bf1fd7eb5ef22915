/**
 * A corpus of secrets as they show up in real payloads. The tests put them in inputs, outputs, errors and
 * headers, then search every sink's raw output for each secret.
 *
 * @module corpus
 */

/** Secret values (each must never appear in any sink), and where they are placed. */
export const SECRETS = {
  password: "Hunter2-Correct-Horse",
  apiKeyHeader: "ak_9f8e7d6c5b4a39281706",
  bearer: "mF_9.B5f-4.1JqM-zyx0001",
  jwt: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
  card: "4111 1111 1111 1111",
  email: "ann.lee@example.com",
  aws: "AKIAIOSFODNN7EXAMPLE",
  stripe: "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
  github: "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
  urlPassword: "pg-pa55word",
  clientSecret: "cs-0a1b2c3d4e5f",
  credential: "db-credential-value-77"
} as const

/** An order input carrying secrets in body fields, nested objects and headers. */
export const secretOrder = {
  id: "o-secret",
  amount: 250,
  customer: { email: SECRETS.email, password: SECRETS.password },
  headers: {
    authorization: `Bearer ${SECRETS.bearer}`,
    "x-api-key": SECRETS.apiKeyHeader,
    cookie: `session=${SECRETS.jwt}`,
    "x-trace": "keep-me"
  },
  // Reaches the error message of a failing node, with more secrets inside free text.
  failWith: `charge failed for card ${SECRETS.card} using ${SECRETS.stripe}; db postgres://app:${SECRETS.urlPassword}@db/x client_secret=${SECRETS.clientSecret} aws ${SECRETS.aws} gh ${SECRETS.github} cred ${SECRETS.credential}`
}
