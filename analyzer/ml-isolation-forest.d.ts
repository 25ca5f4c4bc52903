// ml-isolation-forest 0.1.0 ships no types; iforest.test.ts uses it as the reference implementation.
declare module 'ml-isolation-forest' {
  export class IsolationForest {
    constructor(options?: { nEstimators?: number });
    train(rows: number[][]): void;
    predict(rows: number[][]): number[];
  }
}
