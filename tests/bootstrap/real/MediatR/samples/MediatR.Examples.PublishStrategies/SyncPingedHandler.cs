using System;
using System.Threading;
using System.Threading.Tasks;

