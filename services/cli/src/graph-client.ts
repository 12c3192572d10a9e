import { signToken } from '@ledgerline/gateway/auth';

export interface GraphError {
  message: string;
  extensions?: { code?: string; reason?: string; field?: string } & Record<string, unknown>;
}

/** The graph's refusal: the messages joined (as before), and the errors with their codes for a caller that explains them. */
export class GraphCallError extends Error {
  constructor(readonly errors: GraphError[]) {
    super(errors.map((e) => e.message).join('; '));
  }
}

/** Talks to the running system through the gateway, as an ADMIN (development token unless LEDGERLINE_TOKEN is set). */
export async function graphClient(gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:4000/graphql') {
  const token = process.env.LEDGERLINE_TOKEN ?? (await signToken({ role: 'ADMIN', subject: 'ledgerline-cli' }, process.env.JWT_SECRET));
  return async function call<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let response: Response;
    try {
      response = await fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
    } catch {
      throw new Error(`cannot reach the gateway at ${gatewayUrl} (is \`npm start\` running? set GATEWAY_URL otherwise)`);
    }
    const body = (await response.json()) as { data?: T; errors?: GraphError[] };
    if (body.errors?.length) throw new GraphCallError(body.errors);
    return body.data as T;
  };
}
