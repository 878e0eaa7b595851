"""What the tests share that is not a test: the backends to run and their input sizes, numerical
gradients, small nbgrader notebooks and courses, and the CUDA fast-path check that test_cuda.py
runs as a script."""
