// Gives a planning transaction (EventWriter.replan, always rolled back) a change of its
// own before it plans apply_batch. Neo4j caches a plan per statement *and* per whether
// its transaction has changed anything yet; in a real write apply_batch runs after the
// claim reserved seqs, so a plan made in an unchanged transaction would not be reused.
CREATE (:PlanningScratch)
