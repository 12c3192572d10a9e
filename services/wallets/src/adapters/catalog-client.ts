/** Allowances of a published plan version, read from catalog's GraphQL `planVersion(id){ document }`. */
export interface PlanAllowance {
  id: string;
  name?: string;
  unit: string;
  quantity?: string;
  unlimited?: boolean;
  fairUseCap?: string;
  validity: 'PERIOD' | { days: number };
  rollover?: { maxQuantity?: string; percent?: string };
  shared?: boolean;
}

export interface PlanTerms {
  allowances: PlanAllowance[];
  /**
   * The plan's recurring fee: its period sets the allowance period; a prepaid balance pays it at
   * each renewal. `proration: 'DAILY'`: a prepaid period cut short gives back its unused days.
   */
  recurringFee?: { amount: string; period: 'MONTH' | 'DAYS30' | 'WEEK'; proration?: 'DAILY' | 'NONE' };
  balancePolicy?: { overdraftAllowed: boolean; overdraftLimit?: string; creditLimitHint?: string };
}

export interface CatalogClient {
  planTerms(planVersionId: string): Promise<PlanTerms | null>;
}

export class GraphqlCatalogClient implements CatalogClient {
  constructor(private readonly url: string) {}
  async planTerms(planVersionId: string): Promise<PlanTerms | null> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query($id: ID!) { planVersion(id: $id) { document } }', variables: { id: planVersionId } }),
    });
    const body = (await res.json()) as { data?: { planVersion: { document: PlanTerms } | null }; errors?: { message: string }[] };
    if (body.errors?.length) throw new Error(`catalog: ${body.errors[0]!.message}`);
    const doc = body.data?.planVersion?.document;
    return doc ? { allowances: doc.allowances ?? [], balancePolicy: doc.balancePolicy, recurringFee: doc.recurringFee } : null;
  }
}
