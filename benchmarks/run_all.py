"""Run every benchmark and print its measurements."""
import batch_throughput
import memory
import naive_loops
import overhead
import sandbox_cost
import scaling

if __name__ == "__main__":
    for module in (overhead, naive_loops, memory, batch_throughput, scaling, sandbox_cost):
        print(f"== {module.__name__} ==")
        module.main()
        print()
