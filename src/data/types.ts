/** One SQuAD example, exactly the Hugging Face `rajpurkar/squad` schema. */
export interface SquadRow {
  readonly id: string;
  readonly title: string;
  readonly context: string;
  readonly question: string;
  readonly answers: {
    readonly text: readonly string[];
    /** Character offsets into `context`, counted in Unicode code points (as Python does). */
    readonly answer_start: readonly number[];
  };
}
