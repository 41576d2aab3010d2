using System;
using System.Threading.Tasks;
