// The classes start real processes (three hosts and a PostgreSQL each): one at a time, so timings stay meaningful on 2 cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
