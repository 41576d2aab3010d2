using System.IO;
using System.Threading.Tasks;
using MediatR.Pipeline;
